/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * icount.c: rnngen's instruction counter, a QEMU TCG plugin (qemu-system-arm, qemu-aarch64;
 * one vCPU). It counts every guest instruction QEMU executes, exactly, and splits the count
 * into windows between two marker functions: a window opens when the start marker has run
 * and closes when the stop marker is called; it holds everything executed in between,
 * callees included. Counting is one inline add per translation block (no callback per
 * instruction) plus a callback at each marker's first instruction, so it is fast and the
 * counts are the same on every run.
 *
 * Arguments (-plugin libicount.so,start=ADDR,stop=ADDR,out=FILE):
 *   start, stop  first instruction of the markers (hex or decimal, Thumb bit cleared)
 *   out          where the counts go, one line each: "window INSNS" per window in order,
 *                then "total INSNS" (every instruction the guest executed)
 *
 * Exactness: the per-block add runs before the block's first instruction. When the start
 * marker's first instruction runs, the running total already includes the marker's block
 * (the whole marker: it is a leaf of straight code), so the window's base excludes it. At
 * the stop marker the total includes the stop marker's block, whose length is recorded when
 * it is translated and subtracted. A block is left early only by an exception, which the
 * programs rnngen counts do not raise between markers.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = RNNGEN_QEMU_PLUGIN_VERSION;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv);

static uint64_t total;
static uint64_t start_addr = UINT64_MAX;
static uint64_t stop_addr = UINT64_MAX;
static uint64_t stop_tb_len;
static uint64_t window_base;
static int in_window;
static uint64_t *windows;
static size_t n_windows;
static size_t cap_windows;
static int out_of_memory;
static int stop_misplaced;
static char *out_path;

static void on_start(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    window_base = total;
    in_window = 1;
}

static void on_stop(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!in_window)
    {
        return;
    }
    in_window = 0;
    if (n_windows == cap_windows)
    {
        const size_t cap = cap_windows ? 2 * cap_windows : 1024;
        uint64_t *grown = realloc(windows, cap * sizeof(*windows));
        if (grown == NULL)
        {
            out_of_memory = 1;
            return;
        }
        windows = grown;
        cap_windows = cap;
    }
    windows[n_windows++] = total - stop_tb_len - window_base;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    for (i = 0; i < n; ++i)
    {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == start_addr)
        {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
        if (pc == stop_addr)
        {
            if (i != 0)
            {
                stop_misplaced = 1; /* the stop marker is only ever called: a block start */
            }
            stop_tb_len = n;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    FILE *f;
    size_t k;
    (void)id;
    (void)udata;
    f = out_path ? fopen(out_path, "w") : stderr;
    if (f == NULL)
    {
        return;
    }
    for (k = 0; k < n_windows; ++k)
    {
        fprintf(f, "window %" PRIu64 "\n", windows[k]);
    }
    if (out_of_memory)
    {
        fprintf(f, "error out_of_memory\n");
    }
    if (stop_misplaced)
    {
        fprintf(f, "error stop_marker_not_at_block_start\n");
    }
    fprintf(f, "total %" PRIu64 "\n", total);
    if (f != stderr)
    {
        fclose(f);
    }
    free(windows);
    free(out_path);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; ++i)
    {
        const char *a = argv[i];
        if (strncmp(a, "start=", 6) == 0)
        {
            start_addr = strtoull(a + 6, NULL, 0);
        }
        else if (strncmp(a, "stop=", 5) == 0)
        {
            stop_addr = strtoull(a + 5, NULL, 0);
        }
        else if (strncmp(a, "out=", 4) == 0)
        {
            const size_t len = strlen(a + 4);
            out_path = malloc(len + 1);
            if (out_path == NULL)
            {
                return -1;
            }
            memcpy(out_path, a + 4, len + 1);
        }
        else
        {
            fprintf(stderr, "icount: unknown argument '%s'\n", a);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}

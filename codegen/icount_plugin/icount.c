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
 * It also counts, optionally, the instructions executed inside address ranges (functions,
 * from `nm -S` of the ELF: a function's own instructions, callees excluded) and how many
 * times each range's first instruction ran (its calls), with one inline add per instruction
 * of a range.
 *
 * Arguments (-plugin libicount.so,start=ADDR,stop=ADDR,out=FILE[,ranges=FILE]):
 *   start, stop  first instruction of the markers (hex or decimal, Thumb bit cleared)
 *   out          where the counts go, one line each: "window INSNS" per window in order,
 *                then "range NAME INSNS CALLS" per range, then "total INSNS" (every
 *                instruction the guest executed)
 *   ranges       lines "NAME START END" (hex or decimal, END exclusive, Thumb bit cleared),
 *                at most RNN_ICOUNT_MAX_RANGES of them
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

#define RNN_ICOUNT_MAX_RANGES 512

typedef struct
{
    char name[128];
    uint64_t start;
    uint64_t end;
    uint64_t insns;
    uint64_t calls;
} range_t;

static range_t ranges[RNN_ICOUNT_MAX_RANGES];
static int n_ranges;

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
        int k;
        for (k = 0; k < n_ranges; ++k)
        {
            if (pc >= ranges[k].start && pc < ranges[k].end)
            {
                qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                           &ranges[k].insns, 1);
                if (pc == ranges[k].start)
                {
                    qemu_plugin_register_vcpu_insn_exec_inline(
                        insn, QEMU_PLUGIN_INLINE_ADD_U64, &ranges[k].calls, 1);
                }
            }
        }
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
    int r;
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
    for (r = 0; r < n_ranges; ++r)
    {
        fprintf(f, "range %s %" PRIu64 " %" PRIu64 "\n", ranges[r].name, ranges[r].insns,
                ranges[r].calls);
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

static int read_ranges(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (f == NULL)
    {
        fprintf(stderr, "icount: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL)
    {
        char a[64];
        char b[64];
        range_t *rg = &ranges[n_ranges];
        if (n_ranges == RNN_ICOUNT_MAX_RANGES)
        {
            fprintf(stderr, "icount: more than %d ranges\n", RNN_ICOUNT_MAX_RANGES);
            fclose(f);
            return -1;
        }
        if (sscanf(line, "%127s %63s %63s", rg->name, a, b) != 3)
        {
            fprintf(stderr, "icount: bad range line in %s\n", path);
            fclose(f);
            return -1;
        }
        rg->start = strtoull(a, NULL, 0) & ~(uint64_t)1;
        rg->end = strtoull(b, NULL, 0);
        ++n_ranges;
    }
    fclose(f);
    return 0;
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
        else if (strncmp(a, "ranges=", 7) == 0)
        {
            if (read_ranges(a + 7) != 0)
            {
                return -1;
            }
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

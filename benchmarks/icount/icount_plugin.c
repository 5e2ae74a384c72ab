/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * icount_plugin.c: a QEMU TCG plugin that counts executed guest instructions, exactly,
 *   - inside address ranges (functions, from `nm` of the ELF): instructions executed in the
 *     range and the number of times its first instruction ran (its calls);
 *   - in windows between two marker functions: every instruction executed after the start
 *     marker returns until the stop marker is called (callees included), one count per window.
 * Built against qemu-plugin.h of QEMU 7.2 (plugin API version 1); works with qemu-aarch64 and
 * qemu-system-arm (one vCPU). Counting uses inline adds only (no callback per instruction),
 * except the two marker instructions, so it is fast and deterministic.
 *
 * Arguments (-plugin libicount.so,arg=value,...):
 *   ranges=FILE   lines "name start end" (hex or decimal; end exclusive; Thumb bit cleared)
 *   start=ADDR    first instruction of the start marker function
 *   stop=ADDR     first instruction of the stop marker function
 *   out=FILE      where the counts go (default: QEMU's log, i.e. stderr)
 *
 * Output, one line each:
 *   range NAME INSNS CALLS
 *   window INDEX INSNS
 *   total INSNS            (every instruction the guest executed)
 *
 * How a window is counted: a per-translation-block inline add keeps the running total of
 * executed instructions (TB-level ops run before the TB's first instruction; a TB is straight
 * code, left early only by an exception, which the benchmark programs do not raise). When the
 * start marker's first instruction executes, the total already includes the start marker's
 * own block, so the snapshot excludes the marker. At the stop marker, the total includes the
 * stop marker's block, whose length is recorded when it is translated and subtracted.
 */

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_RANGES 256
#define MAX_WINDOWS 4096

typedef struct
{
    char name[128];
    uint64_t start;
    uint64_t end;
    uint64_t insns;
    uint64_t calls;
} range_t;

static range_t ranges[MAX_RANGES];
static int n_ranges;
static uint64_t total;
static uint64_t start_addr = UINT64_MAX;
static uint64_t stop_addr = UINT64_MAX;
static uint64_t stop_tb_len;
static uint64_t window_base;
static int in_window;
static uint64_t windows[MAX_WINDOWS];
static int n_windows;
static int windows_dropped;
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
    if (n_windows < MAX_WINDOWS)
    {
        windows[n_windows++] = total - stop_tb_len - window_base;
    }
    else
    {
        windows_dropped = 1;
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    if (qemu_plugin_tb_vaddr(tb) == stop_addr)
    {
        stop_tb_len = n;
    }
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
                /* the stop marker must begin its own block (it is only ever called) */
                fprintf(stderr, "icount: stop marker not at a block start\n");
                exit(3);
            }
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    GString *s = g_string_new(NULL);
    int k;
    (void)id;
    (void)udata;
    for (k = 0; k < n_ranges; ++k)
    {
        g_string_append_printf(s, "range %s %" PRIu64 " %" PRIu64 "\n", ranges[k].name,
                               ranges[k].insns, ranges[k].calls);
    }
    for (k = 0; k < n_windows; ++k)
    {
        g_string_append_printf(s, "window %d %" PRIu64 "\n", k, windows[k]);
    }
    if (windows_dropped)
    {
        g_string_append_printf(s, "windows_dropped 1\n");
    }
    g_string_append_printf(s, "total %" PRIu64 "\n", total);
    if (out_path)
    {
        FILE *f = fopen(out_path, "w");
        if (f)
        {
            fputs(s->str, f);
            fclose(f);
        }
    }
    else
    {
        qemu_plugin_outs(s->str);
    }
    g_string_free(s, TRUE);
}

static int read_ranges(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f)
    {
        fprintf(stderr, "icount: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f))
    {
        char name[128];
        char a[64];
        char b[64];
        if (sscanf(line, "%127s %63s %63s", name, a, b) != 3)
        {
            continue;
        }
        if (n_ranges == MAX_RANGES)
        {
            fprintf(stderr, "icount: more than %d ranges\n", MAX_RANGES);
            fclose(f);
            return -1;
        }
        memcpy(ranges[n_ranges].name, name, sizeof name);
        ranges[n_ranges].start = strtoull(a, NULL, 0) & ~(uint64_t)1;
        ranges[n_ranges].end = strtoull(b, NULL, 0);
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
        char *eq = strchr(argv[i], '=');
        if (!eq)
        {
            fprintf(stderr, "icount: bad argument %s\n", argv[i]);
            return -1;
        }
        *eq = '\0';
        if (strcmp(argv[i], "ranges") == 0)
        {
            if (read_ranges(eq + 1) != 0)
            {
                return -1;
            }
        }
        else if (strcmp(argv[i], "start") == 0)
        {
            start_addr = strtoull(eq + 1, NULL, 0) & ~(uint64_t)1;
        }
        else if (strcmp(argv[i], "stop") == 0)
        {
            stop_addr = strtoull(eq + 1, NULL, 0) & ~(uint64_t)1;
        }
        else if (strcmp(argv[i], "out") == 0)
        {
            out_path = g_strdup(eq + 1);
        }
        else
        {
            fprintf(stderr, "icount: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}

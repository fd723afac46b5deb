/* report.c - the human report, TAP, JSON and JUnit.
 *
 * JSON (--json FILE), format 1; stable field names:
 * {
 *   "tool": "vsok-conform", "version": "0.1.0", "format": 1,
 *   "label": "...",                 IUT name (--label, default the target)
 *   "role": "server"|"client"|"exec", "target": "...",
 *   "seed": "0x...", "timeout_ms": N, "started": "UTC time", "duration_ms": N,
 *   "runner_max_rss_kb": N,         the runner's own peak memory (bounded by design)
 *   "vectors": "...",              which vector set was used
 *   "summary": {"total": N, "PASS": N, "FAIL": N, "NON-STRICT": N, "SKIP": N, "ERROR": N},
 *   "rules": {"VSOK-FRAME": "sentence", ...},
 *   "cases": [ {
 *      "id": "invalid.magic.byte-0", "title": "...",
 *      "rule": "VSOK-MAGIC",           the rule the case is about
 *      "tags": ["invalid", ...],
 *      "verdict": "PASS"|"FAIL"|"NON-STRICT"|"SKIP"|"ERROR",
 *      "failed_rule": "VSOK-CLOSE-ON-ERROR" or null,   the rule the failing check names
 *      "expected": "..." or null, "actual": "..." or null,
 *      "timeout": true|false,
 *      "first_diff": byte offset in the IUT's output or null,
 *      "hexdump": "owed ...\nseen ...\n   ^^" or null,
 *      "note": "..." or null,       informational (skip reason, chunking seen)
 *      "bytes_sent": N, "bytes_received": N, "duration_ms": N,
 *      "reproducer": {"bin": "path" or null, "command": "..."} or null
 *   } ... ]
 * }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conform.h"

static const char *colour(vc_verdict v, int on)
{
    if (!on)
        return "";
    switch (v) {
    case VC_PASS: return "\033[32m";
    case VC_FAIL: return "\033[1;31m";
    case VC_NONSTRICT: return "\033[33m";
    case VC_SKIP: return "\033[2m";
    default: return "\033[35m";
    }
}

static void indent(FILE *f, const char *label, const char *text)
{
    if (!text)
        return;
    fprintf(f, "    %-9s ", label);
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "              ");
    }
    fputc('\n', f);
}

void vc_report_line(FILE *f, const vc_run *run, const vc_result *r, int color)
{
    const char *off = color ? "\033[0m" : "";
    fprintf(f, "%s%-10s%s %s  %s\n", colour(r->verdict, color), vc_verdict_name(r->verdict), off,
            r->c->id, r->c->title);
    if (r->verdict == VC_PASS) {
        if (run->o->verbose)
            indent(f, "note", r->note);
        return;
    }
    if (r->verdict == VC_SKIP) {
        indent(f, "why", r->note);
        return;
    }
    if (r->failed_rule)
        fprintf(f, "    %-9s %s: %s\n", "rule", r->failed_rule, vc_rule_text(r->failed_rule));
    indent(f, "expected", r->expected);
    indent(f, "actual", r->actual);
    indent(f, "hexdump", r->hexdump);
    if (r->bin_path)
        indent(f, "sent", r->bin_path);
    indent(f, "replay", r->replay);
}

/* The group of a case: the first part of its id, or the vector group. */
static void group_of(const vc_case *c, char *out, size_t len)
{
    const char *v = strstr(c->tags, "vector:");
    if (v) {
        size_t n = strcspn(v + 7, " ");
        snprintf(out, len, "vector %.*s", (int)n, v + 7);
        return;
    }
    snprintf(out, len, "%.*s", (int)strcspn(c->id, "."), c->id);
}

/* A matrix of groups by verdict, in the order groups first appear. */
static void group_table(FILE *f, const vc_run *run)
{
    enum { MAXG = 64 };
    char names[MAXG][48];
    size_t counts[MAXG][VC_NVERDICTS];
    size_t ng = 0;
    memset(counts, 0, sizeof counts);
    for (size_t i = 0; i < run->n; i++) {
        char g[48];
        group_of(run->results[i].c, g, sizeof g);
        size_t k = 0;
        while (k < ng && strcmp(names[k], g) != 0)
            k++;
        if (k == ng) {
            if (ng == MAXG)
                continue;
            snprintf(names[ng++], sizeof names[0], "%s", g);
        }
        counts[k][run->results[i].verdict]++;
    }
    fprintf(f, "\n  %-22s", "group");
    for (int v = 0; v < VC_NVERDICTS; v++)
        fprintf(f, " %10s", vc_verdict_name((vc_verdict)v));
    fputc('\n', f);
    for (size_t k = 0; k < ng; k++) {
        fprintf(f, "  %-22s", names[k]);
        for (int v = 0; v < VC_NVERDICTS; v++)
            fprintf(f, " %10zu", counts[k][v]);
        fputc('\n', f);
    }
}

void vc_report_human(FILE *f, const vc_run *run, int color)
{
    const vc_opts *o = run->o;
    if (!o->quiet)
        group_table(f, run);
    const char *head = run->counts[VC_FAIL] || run->counts[VC_ERROR] ? "NOT CONFORMANT"
                       : !run->counts[VC_NONSTRICT]                  ? "CONFORMANT"
                       : o->strict ? "NOT STRICTLY CONFORMANT (--strict)"
                                   : "CONFORMANT (NON-STRICT: allowed, discouraged)";
    fprintf(f, "\n%s%s%s  %zu cases in %.1f s:", color ? "\033[1m" : "", head,
            color ? "\033[0m" : "", run->n, run->duration_ms / 1000.0);
    for (int v = 0; v < VC_NVERDICTS; v++)
        fprintf(f, " %s%zu %s%s", colour((vc_verdict)v, color), run->counts[v],
                vc_verdict_name((vc_verdict)v), color ? "\033[0m" : "");
    fprintf(f, "\n  role %s, target %s, seed 0x%016llx (replay with --seed), timeout %d ms\n",
            vc_role_name(o->role), o->label, (unsigned long long)o->seed, o->timeout_ms);
    if (run->vectors_note)
        fprintf(f, "  %s\n", run->vectors_note);
    if (run->counts[VC_FAIL] && o->artifacts && strcmp(o->artifacts, "none") != 0)
        fprintf(f, "  bytes sent in failed cases: %s/<case>.bin\n", o->artifacts);
}

void vc_report_tap(FILE *f, const vc_run *run)
{
    fprintf(f, "TAP version 13\n1..%zu\n", run->n);
    fprintf(f, "# vsok-conform role %s target %s seed 0x%016llx\n", vc_role_name(run->o->role),
            run->o->label, (unsigned long long)run->o->seed);
    for (size_t i = 0; i < run->n; i++) {
        const vc_result *r = &run->results[i];
        int ok = r->verdict != VC_FAIL && r->verdict != VC_ERROR;
        fprintf(f, "%s %zu - %s", ok ? "ok" : "not ok", i + 1, r->c->id);
        if (r->verdict == VC_SKIP)
            fprintf(f, " # SKIP %s", r->note ? r->note : "");
        else if (r->verdict == VC_NONSTRICT)
            fprintf(f, " # NON-STRICT %s", r->failed_rule);
        fputc('\n', f);
        if (!ok || r->verdict == VC_NONSTRICT) {
            fprintf(f, "  ---\n  verdict: %s\n  rule: %s\n", vc_verdict_name(r->verdict),
                    r->failed_rule ? r->failed_rule : "");
            fprintf(f, "  expected: ");
            vc_json_str(f, r->expected);
            fprintf(f, "\n  actual: ");
            vc_json_str(f, r->actual);
            if (r->replay) {
                fprintf(f, "\n  replay: ");
                vc_json_str(f, r->replay);
            }
            fprintf(f, "\n  ...\n");
        }
    }
}

void vc_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '<': fputs("\\u003c", f); break; /* safe to embed in HTML <script> */
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void json_tags(FILE *f, const char *tags)
{
    fputc('[', f);
    int first = 1;
    for (const char *p = tags; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char buf[128];
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
            if (!first)
                fputc(',', f);
            vc_json_str(f, buf);
            first = 0;
        }
        if (!e)
            break;
        p = e + 1;
    }
    fputc(']', f);
}

void vc_report_json_to(FILE *f, const vc_run *run);
void vc_report_json_to(FILE *f, const vc_run *run)
{
    const vc_opts *o = run->o;
    char seed[24];
    snprintf(seed, sizeof seed, "0x%016llx", (unsigned long long)o->seed);
    fprintf(f, "{\"tool\":\"vsok-conform\",\"version\":\"0.1.0\",\"format\":1,\"label\":");
    vc_json_str(f, o->label);
    fprintf(f, ",\"role\":\"%s\",\"target\":", vc_role_name(o->role));
    vc_json_str(f, o->role == VC_ROLE_CLIENT ? o->listen : o->target);
    fprintf(f, ",\"seed\":\"%s\",\"timeout_ms\":%d,\"started\":", seed, o->timeout_ms);
    vc_json_str(f, run->started);
    struct rusage ru;
    long rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    fprintf(f, ",\"duration_ms\":%lld,\"runner_max_rss_kb\":%ld,\"vectors\":",
            (long long)run->duration_ms, rss);
    vc_json_str(f, run->vectors_note);
    fprintf(f, ",\n\"summary\":{\"total\":%zu", run->n);
    for (int v = 0; v < VC_NVERDICTS; v++)
        fprintf(f, ",\"%s\":%zu", vc_verdict_name((vc_verdict)v), run->counts[v]);
    fprintf(f, "},\n\"rules\":{");
    static const char *const rules[] = {
        "VSOK-FRAME", "VSOK-SPLIT", "VSOK-ORDER", "VSOK-FLOW", "VSOK-HALF-CLOSE", "VSOK-EOF",
        "VSOK-MAGIC", "VSOK-LENGTH-ZERO", "VSOK-MAX", "VSOK-TRUNCATED", "VSOK-CLOSE-ON-ERROR",
        "VSOK-PREFIX", "VSOK-SURVIVE", "VSOK-TIMELY", "VSOK-EARLY-REJECT", "VSOK-CONCURRENT",
        "VSOK-LAZY-ALLOC"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", rules[i]);
        vc_json_str(f, vc_rule_text(rules[i]));
    }
    fprintf(f, "},\n\"cases\":[\n");
    for (size_t i = 0; i < run->n; i++) {
        const vc_result *r = &run->results[i];
        fprintf(f, "%s{\"id\":", i ? ",\n" : "");
        vc_json_str(f, r->c->id);
        fprintf(f, ",\"title\":");
        vc_json_str(f, r->c->title);
        fprintf(f, ",\"rule\":");
        vc_json_str(f, r->c->rule);
        fprintf(f, ",\"tags\":");
        json_tags(f, r->c->tags);
        fprintf(f, ",\"verdict\":\"%s\",\"failed_rule\":", vc_verdict_name(r->verdict));
        vc_json_str(f, r->failed_rule);
        fprintf(f, ",\"expected\":");
        vc_json_str(f, r->expected);
        fprintf(f, ",\"actual\":");
        vc_json_str(f, r->actual);
        fprintf(f, ",\"timeout\":%s,\"first_diff\":", r->timeout ? "true" : "false");
        if (r->first_diff == UINT64_MAX)
            fputs("null", f);
        else
            fprintf(f, "%llu", (unsigned long long)r->first_diff);
        fprintf(f, ",\"hexdump\":");
        vc_json_str(f, r->hexdump);
        fprintf(f, ",\"note\":");
        vc_json_str(f, r->note);
        fprintf(f, ",\"bytes_sent\":%llu,\"bytes_received\":%llu,\"duration_ms\":%lld,\"reproducer\":",
                (unsigned long long)r->bytes_sent, (unsigned long long)r->bytes_received,
                (long long)r->duration_ms);
        if (r->replay) {
            fprintf(f, "{\"bin\":");
            vc_json_str(f, r->bin_path);
            fprintf(f, ",\"command\":");
            vc_json_str(f, r->replay);
            fputc('}', f);
        } else {
            fputs("null", f);
        }
        fputc('}', f);
    }
    fprintf(f, "\n]}\n");
}

int vc_report_json(const char *path, const vc_run *run)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f)
        return -1;
    vc_report_json_to(f, run);
    if (f == stdout)
        return fflush(f);
    return fclose(f);
}

static void xml_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t')
                fputc('?', f);
            else
                fputc(*p, f);
        }
    }
}

int vc_report_junit(const char *path, const vc_run *run)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"vsok-conform\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
               "skipped=\"%zu\" time=\"%.3f\">\n",
            run->n, run->counts[VC_FAIL], run->counts[VC_ERROR], run->counts[VC_SKIP],
            run->duration_ms / 1000.0);
    fprintf(f, "<testsuite name=\"vsok-conform %s ", vc_role_name(run->o->role));
    xml_str(f, run->o->label);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            run->n, run->counts[VC_FAIL], run->counts[VC_ERROR], run->counts[VC_SKIP],
            run->duration_ms / 1000.0);
    fprintf(f, "<properties><property name=\"seed\" value=\"0x%016llx\"/></properties>\n",
            (unsigned long long)run->o->seed);
    for (size_t i = 0; i < run->n; i++) {
        const vc_result *r = &run->results[i];
        const char *dot = strchr(r->c->id, '.');
        fprintf(f, "<testcase classname=\"%.*s\" name=\"", dot ? (int)(dot - r->c->id) : 0,
                r->c->id);
        xml_str(f, r->c->id);
        fprintf(f, "\" time=\"%.3f\">", r->duration_ms / 1000.0);
        const char *tag = r->verdict == VC_FAIL ? "failure" : r->verdict == VC_ERROR ? "error" : NULL;
        if (tag) {
            fprintf(f, "<%s message=\"", tag);
            xml_str(f, r->failed_rule);
            fprintf(f, ": ");
            xml_str(f, r->actual);
            fprintf(f, "\">rule: ");
            xml_str(f, r->failed_rule);
            fprintf(f, " - ");
            xml_str(f, vc_rule_text(r->failed_rule));
            fprintf(f, "\nexpected: ");
            xml_str(f, r->expected);
            fprintf(f, "\nactual: ");
            xml_str(f, r->actual);
            if (r->hexdump) {
                fprintf(f, "\n");
                xml_str(f, r->hexdump);
            }
            fprintf(f, "\nreplay: ");
            xml_str(f, r->replay);
            fprintf(f, "</%s>", tag);
        } else if (r->verdict == VC_SKIP) {
            fprintf(f, "<skipped message=\"");
            xml_str(f, r->note);
            fprintf(f, "\"/>");
        } else if (r->verdict == VC_NONSTRICT) {
            fprintf(f, "<system-out>NON-STRICT ");
            xml_str(f, r->failed_rule);
            fprintf(f, ": ");
            xml_str(f, r->actual);
            fprintf(f, "</system-out>");
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "</testsuite>\n</testsuites>\n");
    return fclose(f);
}

/* SPDX-License-Identifier: MIT */
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
 *   "jobs": N,                     cases run at the same time (--jobs)
 *   "summary": {"total": N, "PASS": N, "FAIL": N, "NON-STRICT": N, "SKIP": N, "ERROR": N,
 *               "strict": true|false,     --strict given
 *               "failed": N,              cases with "failed": true
 *               "conformant": true|false, no case failed and the run did not end early
 *               "ended_early": "why" or null},
 *   "rules": {"VSOK-FRAME": "sentence", ...},
 *   "cases": [ {
 *      "id": "invalid.magic.byte-0", "title": "...",
 *      "rule": "VSOK-MAGIC",           the rule the case is about
 *      "tags": ["invalid", ...],
 *      "verdict": "PASS"|"FAIL"|"NON-STRICT"|"SKIP"|"ERROR",
 *      "failed": true|false,           FAIL, ERROR, and NON-STRICT under --strict
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
 * Strings are UTF-8: valid UTF-8 passes through, control characters are
 * escaped (\u00XX), and every byte of an ill-formed sequence becomes
 * U+FFFD (written \ufffd), so the file is always valid JSON.
 *
 * Case fields may be missing (NULL) for results that do not come from the
 * catalogue (fuzz findings): every writer prints "" or null for them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli_json.h"
#include "conform.h"

static const char *nz(const char *s) { return s ? s : ""; }

int vc_result_failed(const vc_opts *o, const vc_result *r)
{
    return r->verdict == VC_FAIL || r->verdict == VC_ERROR || (o->strict && r->verdict == VC_NONSTRICT);
}

static size_t nfailed(const vc_run *run)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n; i++)
        n += vc_result_failed(run->o, &run->results[i]) != 0;
    return n;
}

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
            nz(r->c->id), nz(r->c->title));
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
    const char *v = c->tags ? strstr(c->tags, "vector:") : NULL;
    if (v) {
        size_t n = strcspn(v + 7, " ");
        snprintf(out, len, "vector %.*s", (int)n, v + 7);
        return;
    }
    const char *id = nz(c->id);
    snprintf(out, len, "%.*s", (int)strcspn(id, "."), id);
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
    const char *head = run->ended ? "NOT CONFORMANT (the run ended early)"
                       : run->counts[VC_FAIL] || run->counts[VC_ERROR] ? "NOT CONFORMANT"
                       : !run->counts[VC_NONSTRICT]                    ? "CONFORMANT"
                       : o->strict                                     ? "NOT STRICTLY CONFORMANT (--strict)"
                                   : "CONFORMANT (NON-STRICT: allowed, discouraged)";
    fprintf(f, "\n%s%s%s  %zu cases in %.1f s:", color ? "\033[1m" : "", head, color ? "\033[0m" : "", run->n,
            run->duration_ms / 1000.0);
    for (int v = 0; v < VC_NVERDICTS; v++)
        fprintf(f, " %s%zu %s%s", colour((vc_verdict)v, color), run->counts[v],
                vc_verdict_name((vc_verdict)v), color ? "\033[0m" : "");
    fprintf(f, "\n  role %s, target %s, seed 0x%016llx (replay with --seed), timeout %d ms\n",
            vc_role_name(o->role), o->label, (unsigned long long)o->seed, o->timeout_ms);
    if (run->vectors_note)
        fprintf(f, "  %s\n", run->vectors_note);
    if (run->ended)
        fprintf(f, "  %s\n", run->ended);
    if (run->counts[VC_FAIL] && o->artifacts && strcmp(o->artifacts, "none") != 0)
        fprintf(f, "  bytes sent in failed cases: %s/<case>.bin\n", o->artifacts);
}

/* TAP: a case is "not ok" exactly when it counts as a failure of the run,
 * so with --strict a NON-STRICT case is "not ok" and prove agrees with the
 * exit status. */
void vc_report_tap(FILE *f, const vc_run *run)
{
    fprintf(f, "TAP version 13\n1..%zu\n", run->n);
    fprintf(f, "# vsok-conform role %s target %s seed 0x%016llx%s\n", vc_role_name(run->o->role),
            run->o->label, (unsigned long long)run->o->seed, run->o->strict ? " strict" : "");
    for (size_t i = 0; i < run->n; i++) {
        const vc_result *r = &run->results[i];
        int ok = !vc_result_failed(run->o, r);
        fprintf(f, "%s %zu - %s", ok ? "ok" : "not ok", i + 1, nz(r->c->id));
        if (r->verdict == VC_SKIP)
            fprintf(f, " # SKIP %s", nz(r->note));
        else if (r->verdict == VC_NONSTRICT)
            fprintf(f, " # NON-STRICT %s%s", nz(r->failed_rule),
                    run->o->strict ? " (a failure under --strict)" : "");
        fputc('\n', f);
        if (!ok || r->verdict == VC_NONSTRICT) {
            fprintf(f, "  ---\n  verdict: %s\n  rule: %s\n", vc_verdict_name(r->verdict), nz(r->failed_rule));
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
    if (run->ended)
        fprintf(f, "# %s\n", run->ended);
}

void vc_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        char u[6];
        size_t ulen;
        p += cli_json_unit(p, end, u, &ulen);
        fwrite(u, 1, ulen, f);
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
    fprintf(f, ",\"duration_ms\":%lld,\"runner_max_rss_kb\":%ld,\"vectors\":", (long long)run->duration_ms,
            rss);
    vc_json_str(f, run->vectors_note);
    fprintf(f, ",\"jobs\":%d,\n\"summary\":{\"total\":%zu", o->jobs, run->n);
    for (int v = 0; v < VC_NVERDICTS; v++)
        fprintf(f, ",\"%s\":%zu", vc_verdict_name((vc_verdict)v), run->counts[v]);
    size_t nf = nfailed(run);
    fprintf(f,
            ",\"strict\":%s,\"failed\":%zu,\"conformant\":%s,\"ended_early\":", o->strict ? "true" : "false",
            nf, nf == 0 && !run->ended ? "true" : "false");
    vc_json_str(f, run->ended);
    fprintf(f, "},\n\"rules\":{");
    static const char *const rules[] = {"VSOK-FRAME",      "VSOK-SPLIT",          "VSOK-ORDER",
                                        "VSOK-FLOW",       "VSOK-HALF-CLOSE",     "VSOK-EOF",
                                        "VSOK-MAGIC",      "VSOK-LENGTH-ZERO",    "VSOK-MAX",
                                        "VSOK-TRUNCATED",  "VSOK-CLOSE-ON-ERROR", "VSOK-PREFIX",
                                        "VSOK-SURVIVE",    "VSOK-TIMELY",         "VSOK-EARLY-REJECT",
                                        "VSOK-CONCURRENT", "VSOK-LAZY-ALLOC"};
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
        fprintf(f, ",\"verdict\":\"%s\",\"failed\":%s,\"failed_rule\":", vc_verdict_name(r->verdict),
                vc_result_failed(o, r) ? "true" : "false");
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

void vc_markup_put(FILE *f, const char *s, int keep_ws)
{
    const unsigned char *p = (const unsigned char *)(s ? s : ""), *end = p + strlen((const char *)p);
    while (p < end) {
        size_t n = cli_utf8_len(p, end);
        if (n == 0) {
            fputs("&#xFFFD;", f);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        }
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        case '\n': fputs(keep_ws ? "\n" : "&#10;", f); break;
        case '\t': fputs(keep_ws ? "\t" : "&#9;", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fputs("&#xFFFD;", f);
            else
                fputc(*p, f);
        }
        p++;
    }
}

/* XML text and attribute values: a newline is kept in attribute values too. */
static void xml_str(FILE *f, const char *s) { vc_markup_put(f, s, 0); }

/* JUnit XML as the Jenkins/Ant schema (junit-4.xsd) has it: testsuites
 * carries name, tests, failures, errors, time; testsuite adds skipped,
 * timestamp, hostname; every failure and error has a type (the rule that
 * failed, or ERROR) and a message.  With --strict a NON-STRICT case is a
 * failure, so the dashboard agrees with the exit status. */
int vc_report_junit(const char *path, const vc_run *run)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const vc_opts *o = run->o;
    size_t failures = run->counts[VC_FAIL] + (o->strict ? run->counts[VC_NONSTRICT] : 0);
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%.19s", run->started); /* xs:dateTime without the Z */
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"vsok-conform\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            run->n, failures, run->counts[VC_ERROR], run->duration_ms / 1000.0);
    fprintf(f, "<testsuite name=\"vsok-conform %s ", vc_role_name(o->role));
    xml_str(f, o->label);
    fprintf(f,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" "
            "timestamp=\"%s\" hostname=\"localhost\">\n",
            run->n, failures, run->counts[VC_ERROR], run->counts[VC_SKIP], run->duration_ms / 1000.0, stamp);
    fprintf(f,
            "<properties><property name=\"seed\" value=\"0x%016llx\"/>"
            "<property name=\"strict\" value=\"%s\"/>",
            (unsigned long long)o->seed, o->strict ? "true" : "false");
    if (run->ended) {
        fprintf(f, "<property name=\"ended_early\" value=\"");
        xml_str(f, run->ended);
        fprintf(f, "\"/>");
    }
    fprintf(f, "</properties>\n");
    for (size_t i = 0; i < run->n; i++) {
        const vc_result *r = &run->results[i];
        const char *id = nz(r->c->id);
        const char *dot = strchr(id, '.');
        fprintf(f, "<testcase classname=\"");
        if (dot)
            fprintf(f, "%.*s", (int)(dot - id), id); /* ids are [a-z0-9.-] */
        else
            xml_str(f, id);
        fprintf(f, "\" name=\"");
        xml_str(f, id);
        fprintf(f, "\" time=\"%.3f\">", r->duration_ms / 1000.0);
        const char *tag = r->verdict == VC_ERROR ? "error" : vc_result_failed(o, r) ? "failure" : NULL;
        if (tag) {
            const char *type = r->verdict == VC_ERROR ? "ERROR"
                               : r->failed_rule       ? r->failed_rule
                                                      : vc_verdict_name(r->verdict);
            fprintf(f, "<%s type=\"", tag);
            xml_str(f, type);
            fprintf(f, "\" message=\"%s", vc_verdict_name(r->verdict));
            if (r->verdict == VC_NONSTRICT)
                fprintf(f, " (a failure under --strict)");
            if (r->failed_rule) {
                fputc(' ', f);
                xml_str(f, r->failed_rule);
            }
            fprintf(f, ": ");
            xml_str(f, r->actual ? r->actual : "no details");
            fprintf(f, "\">verdict: %s\nrule: ", vc_verdict_name(r->verdict));
            xml_str(f, r->failed_rule);
            if (r->failed_rule) {
                fprintf(f, " - ");
                xml_str(f, vc_rule_text(r->failed_rule));
            }
            fprintf(f, "\nexpected: ");
            xml_str(f, r->expected);
            fprintf(f, "\nactual: ");
            xml_str(f, r->actual);
            if (r->hexdump) {
                fprintf(f, "\n");
                xml_str(f, r->hexdump);
            }
            if (r->replay) {
                fprintf(f, "\nreplay: ");
                xml_str(f, r->replay);
            }
            fprintf(f, "</%s>", tag);
        } else if (r->verdict == VC_SKIP) {
            fprintf(f, "<skipped message=\"");
            xml_str(f, r->note ? r->note : "skipped");
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
    fprintf(f, "<system-out/><system-err/>\n</testsuite>\n</testsuites>\n");
    return fclose(f);
}

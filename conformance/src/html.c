/* SPDX-License-Identifier: MIT */
/* html.c - one self-contained HTML page that reads right without
 * JavaScript: the summary of every run, then every failure's details
 * (expected, actual, hex dump, replay), then a table of all cases by run
 * with the failing rows first.  Earlier runs (--html-with FILE.json) become
 * extra columns, so several implementations or roles can be compared side by
 * side.  A small inline script only filters rows; with scripts blocked (as
 * Jenkins' HTML publisher does) nothing is lost.
 *
 * Every run, the current one included, goes through the same path: its
 * JSON report is parsed by the strict parser below (RFC 8259, nesting
 * bounded) and checked to be a vsok-conform report of format 1, so an
 * earlier file that is truncated, is a vector file or comes from another
 * tool is refused with a one-line reason instead of rendering an empty
 * table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "conform.h"

void vc_report_json_to(FILE *f, const vc_run *run);

/* --- a small strict JSON parser --- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
    jtype t;
    int b;
    double num;
    char *s;        /* J_STR: NUL-terminated UTF-8 (an embedded \u0000 ends it) */
    struct jv *kid; /* J_ARR, J_OBJ */
    char **key;     /* J_OBJ */
    size_t n, cap;
} jv;

typedef struct jparser {
    const char *p, *start, *end;
    int depth;
    const char *err;
} jparser;

#define J_MAX_DEPTH 64

static void jfree(jv *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->kid[i]);
        if (v->key)
            free(v->key[i]);
    }
    free(v->kid);
    free(v->key);
    memset(v, 0, sizeof *v);
}

static void jws(jparser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jfail(jparser *j, const char *why)
{
    if (!j->err)
        j->err = why;
    return -1;
}

static void put_utf8(char **buf, size_t *n, size_t *cap, unsigned long cp)
{
    char tmp[4];
    size_t k;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | cp >> 6);
        tmp[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | cp >> 12);
        tmp[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        tmp[0] = (char)(0xf0 | cp >> 18);
        tmp[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        tmp[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        tmp[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (*n + k + 1 > *cap) {
        *cap = (*n + k + 1) * 2;
        *buf = vc_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *n, tmp, k);
    *n += k;
}

static int hex4(const char *p, unsigned long *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int jstring(jparser *j, char **out)
{
    if (j->p >= j->end || *j->p != '"')
        return jfail(j, "a string was expected");
    j->p++;
    size_t n = 0, cap = 32;
    char *buf = vc_xmalloc(cap);
    for (;;) {
        if (j->p >= j->end) {
            free(buf);
            return jfail(j, "the input ends inside a string");
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            return jfail(j, "a control character inside a string");
        }
        if (c != '\\') {
            /* copied as is; ill-formed UTF-8 is replaced when rendered */
            if (n + 2 > cap) {
                cap *= 2;
                buf = vc_xrealloc(buf, cap);
            }
            buf[n++] = (char)c;
            j->p++;
            continue;
        }
        if (j->end - j->p < 2) {
            free(buf);
            return jfail(j, "the input ends inside an escape");
        }
        char e = j->p[1];
        j->p += 2;
        unsigned long cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (j->end - j->p < 4 || hex4(j->p, &cp) != 0) {
                free(buf);
                return jfail(j, "a bad \\u escape");
            }
            j->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                unsigned long lo;
                if (hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    j->p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate */
            break;
        default: free(buf); return jfail(j, "a bad escape in a string");
        }
        put_utf8(&buf, &n, &cap, cp);
    }
    buf[n] = 0;
    *out = buf;
    return 0;
}

static int jvalue(jparser *j, jv *v);

static int jnumber(jparser *j, jv *v)
{
    const char *p = j->p;
    if (p < j->end && *p == '-')
        p++;
    if (p >= j->end || !(*p >= '0' && *p <= '9'))
        return jfail(j, "an unexpected character");
    if (*p == '0')
        p++;
    else
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end || !(*p >= '0' && *p <= '9'))
            return jfail(j, "a bad number");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || !(*p >= '0' && *p <= '9'))
            return jfail(j, "a bad number");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    char tmp[64];
    size_t len = (size_t)(p - j->p);
    snprintf(tmp, sizeof tmp, "%.*s", (int)(len < sizeof tmp ? len : sizeof tmp - 1), j->p);
    v->t = J_NUM;
    v->num = strtod(tmp, NULL);
    j->p = p;
    return 0;
}

static jv *jpush(jv *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->kid = vc_xrealloc(v->kid, v->cap * sizeof *v->kid);
        if (v->t == J_OBJ)
            v->key = vc_xrealloc(v->key, v->cap * sizeof *v->key);
    }
    jv *k = &v->kid[v->n];
    memset(k, 0, sizeof *k);
    if (v->key)
        v->key[v->n] = NULL;
    v->n++;
    return k;
}

static int jword(jparser *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return jfail(j, "an unexpected character");
    j->p += n;
    return 0;
}

static int jcontainer(jparser *j, jv *v, char close)
{
    if (++j->depth > J_MAX_DEPTH)
        return jfail(j, "nested too deeply");
    v->t = close == '}' ? J_OBJ : J_ARR;
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        jws(j);
        char *key = NULL;
        if (v->t == J_OBJ) {
            if (jstring(j, &key) != 0)
                return -1;
            jws(j);
            if (j->p >= j->end || *j->p != ':') {
                free(key);
                return jfail(j, j->p >= j->end ? "the input ends early" : "':' was expected");
            }
            j->p++;
        }
        jv *k = jpush(v);
        if (v->t == J_OBJ)
            v->key[v->n - 1] = key;
        if (jvalue(j, k) != 0)
            return -1;
        jws(j);
        if (j->p >= j->end)
            return jfail(j, "the input ends early (truncated?)");
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            j->depth--;
            return 0;
        }
        return jfail(j, close == '}' ? "',' or '}' was expected" : "',' or ']' was expected");
    }
}

static int jvalue(jparser *j, jv *v)
{
    jws(j);
    if (j->p >= j->end)
        return jfail(j, "the input ends early (truncated?)");
    switch (*j->p) {
    case '{': return jcontainer(j, v, '}');
    case '[': return jcontainer(j, v, ']');
    case '"': v->t = J_STR; return jstring(j, &v->s);
    case 't':
        v->t = J_BOOL;
        v->b = 1;
        return jword(j, "true");
    case 'f': v->t = J_BOOL; return jword(j, "false");
    case 'n': v->t = J_NULL; return jword(j, "null");
    default: return jnumber(j, v);
    }
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (o->key[i] && !strcmp(o->key[i], key))
            return &o->kid[i];
    return NULL;
}

static const char *jstr(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->t == J_STR ? v->s : NULL;
}

static double jnum(const jv *o, const char *key, double dflt)
{
    const jv *v = jget(o, key);
    return v && v->t == J_NUM ? v->num : dflt;
}

/* Parses one report; 0, or -1 with a one-line reason naming the file. */
static int load_report(const char *name, const char *buf, size_t len, jv *out, char *err, size_t errlen)
{
    jparser j = {.p = buf, .start = buf, .end = buf + len};
    memset(out, 0, sizeof *out);
    if (jvalue(&j, out) == 0) {
        jws(&j);
        if (j.p != j.end)
            jfail(&j, "text after the end of the JSON value");
    }
    if (j.err) {
        snprintf(err, errlen, "%s is not valid JSON: %s at byte %zu", name, j.err, (size_t)(j.p - j.start));
        jfree(out);
        return -1;
    }
    const char *tool = jstr(out, "tool");
    const jv *fmt = jget(out, "format"), *cases = jget(out, "cases");
    if (out->t != J_OBJ || !tool || strcmp(tool, "vsok-conform") != 0) {
        snprintf(err, errlen, "%s is not a vsok-conform report (\"tool\" is %s%s%s)", name, tool ? "\"" : "",
                 tool ? tool : "missing", tool ? "\"" : "");
        jfree(out);
        return -1;
    }
    if (!fmt || fmt->t != J_NUM || fmt->num != 1) {
        snprintf(err, errlen,
                 "%s is a vsok-conform report of an unknown format (this runner reads "
                 "\"format\": 1)",
                 name);
        jfree(out);
        return -1;
    }
    if (!cases || cases->t != J_ARR) {
        snprintf(err, errlen, "%s has no \"cases\" array", name);
        jfree(out);
        return -1;
    }
    for (size_t i = 0; i < cases->n; i++)
        if (cases->kid[i].t != J_OBJ || !jstr(&cases->kid[i], "verdict")) {
            snprintf(err, errlen, "%s: case %zu is not an object with a \"verdict\"", name, i);
            jfree(out);
            return -1;
        }
    return 0;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 65536;
    char *buf = vc_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= 256u * 1024 * 1024) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "%s is larger than 256 MiB", path);
                return NULL;
            }
            cap *= 2;
            buf = vc_xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "cannot read %s", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Checks an --html-with file before the run starts (main.c): a bad one
 * ends the run at once with exit 2 instead of after every case. */
int vc_html_check(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *buf = slurp(path, &len, err, errlen);
    if (!buf)
        return -1;
    jv v;
    int rc = load_report(path, buf, len, &v, err, errlen);
    free(buf);
    if (rc == 0)
        jfree(&v);
    return rc;
}

/* --- the page --- */

static void h(FILE *f, const char *s) { vc_markup_put(f, s, 1); }

static const char head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>vsok-conform report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.2em 0 .4em}"
    "h3{font-size:1em;margin:.2em 0}\n"
    "table{border-collapse:collapse}\n"
    "td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top}\n"
    "th{background:#f4f4f4;position:sticky;top:0}\n"
    "td.id{font-family:monospace;white-space:nowrap}\n"
    ".PASS{background:#c8ecc8}.FAIL{background:#f5a3a3;font-weight:bold}\n"
    ".NON-STRICT{background:#fbe3a0}.SKIP{background:#eee;color:#888}.ERROR{background:#d9b3f0}\n"
    "td.v{text-align:center;white-space:nowrap}td.v a{color:inherit}\n"
    "pre{margin:.2em 0;background:#fafafa;border:1px solid #eee;padding:4px;white-space:pre-wrap}\n"
    ".det{border:1px solid #ddd;border-left:6px solid #f5a3a3;padding:.3em .6em;margin:.5em 0}\n"
    ".det.NON-STRICT{border-left-color:#fbe3a0}.det.ERROR{border-left-color:#d9b3f0}\n"
    ".det{background:#fff}.sum span{display:inline-block;margin-right:1em;padding:0 .3em}\n"
    "</style></head><body>\n<h1>vsok-conform report</h1>\n";

static const char script[] =
    "<script>\n"
    "/* filtering only: every verdict and detail above is plain HTML */\n"
    "const rows=[...document.querySelectorAll('#m tbody tr')];let f='all',q='';\n"
    "function draw(){for(const r of rows){const v=r.dataset.v.split(' ');let s=true;"
    "if(f==='bad')s=v.some(x=>x!=='PASS'&&x!=='-');"
    "if(f==='diff')s=new Set(v).size>1;"
    "if(q&&!r.dataset.q.includes(q))s=false;r.hidden=!s}}\n"
    "document.querySelectorAll('#bar button').forEach(b=>b.onclick=()=>{f=b.dataset.f;draw()});\n"
    "document.getElementById('q').oninput=e=>{q=e.target.value;draw()};\n"
    "document.getElementById('bar').hidden=false;\n"
    "</script>\n";

static int bad_verdict(const char *v)
{
    return v && (!strcmp(v, "FAIL") || !strcmp(v, "ERROR") || !strcmp(v, "NON-STRICT"));
}

/* 0 failing somewhere, 1 NON-STRICT somewhere, 2 the rest: rows sort by it. */
static int row_rank(const jv **cells, size_t nruns)
{
    int rank = 2;
    for (size_t r = 0; r < nruns; r++) {
        const char *v = cells[r] ? jstr(cells[r], "verdict") : NULL;
        if (v && (!strcmp(v, "FAIL") || !strcmp(v, "ERROR")))
            return 0;
        if (v && !strcmp(v, "NON-STRICT"))
            rank = 1;
    }
    return rank;
}

static void field(FILE *f, const char *label, const char *text)
{
    if (!text || !*text)
        return;
    fprintf(f, "<div>%s:</div><pre>", label);
    h(f, text);
    fputs("</pre>\n", f);
}

static void render(FILE *f, jv *runs, size_t nruns)
{
    /* the union of case ids, in order of first appearance */
    size_t nrows = 0, cap = 0;
    const jv ***cells = NULL; /* cells[row][run] */
    const char **ids = NULL;
    for (size_t r = 0; r < nruns; r++) {
        const jv *cases = jget(&runs[r], "cases");
        for (size_t i = 0; i < cases->n; i++) {
            const char *id = jstr(&cases->kid[i], "id");
            if (!id)
                id = ""; /* a result that is not from the catalogue may have none */
            size_t k = 0;
            while (k < nrows && strcmp(ids[k], id) != 0)
                k++;
            if (k == nrows) {
                if (nrows == cap) {
                    cap = cap ? cap * 2 : 256;
                    ids = vc_xrealloc(ids, cap * sizeof *ids);
                    cells = vc_xrealloc(cells, cap * sizeof *cells);
                }
                ids[nrows] = id;
                cells[nrows] = calloc(nruns, sizeof **cells);
                if (!cells[nrows]) {
                    fprintf(stderr, "vsok-conform: out of memory\n");
                    exit(2);
                }
                nrows++;
            }
            cells[k][r] = &cases->kid[i];
        }
    }
    size_t *order = vc_xmalloc((nrows ? nrows : 1) * sizeof *order), no = 0;
    for (int rank = 0; rank <= 2; rank++)
        for (size_t k = 0; k < nrows; k++)
            if (row_rank(cells[k], nruns) == rank)
                order[no++] = k;

    fputs("<section id=\"summary\">\n", f);
    for (size_t r = 0; r < nruns; r++) {
        const jv *run = &runs[r], *sum = jget(run, "summary");
        const jv *conf = jget(sum, "conformant");
        double nfail = jnum(sum, "FAIL", 0) + jnum(sum, "ERROR", 0);
        int ok = conf && conf->t == J_BOOL ? conf->b : nfail == 0;
        fprintf(f, "<p class=\"sum\"><b>");
        h(f, jstr(run, "label"));
        fprintf(f, " (");
        h(f, jstr(run, "role"));
        fprintf(f, ")</b>: <b>%s</b>, seed ", ok ? "CONFORMANT" : "NOT CONFORMANT");
        h(f, jstr(run, "seed"));
        fprintf(f, ", %.1f s, ", jnum(run, "duration_ms", 0) / 1000.0);
        h(f, jstr(run, "started"));
        fputs(": ", f);
        static const char *const V[] = {"PASS", "FAIL", "NON-STRICT", "SKIP", "ERROR"};
        for (int v = 0; v < 5; v++)
            fprintf(f, "<span class=\"%s\">%.0f %s</span>", V[v], jnum(sum, V[v], 0), V[v]);
        const char *ended = jstr(sum, "ended_early");
        if (ended) {
            fputs("<br>", f);
            h(f, ended);
        }
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);

    /* every failure's details, failing rows first */
    size_t nbad = 0;
    for (size_t k = 0; k < nrows; k++)
        for (size_t r = 0; r < nruns; r++)
            nbad += cells[k][r] && bad_verdict(jstr(cells[k][r], "verdict"));
    fprintf(f, "<section id=\"failures\">\n<h2>Failures and NON-STRICT verdicts (%zu)</h2>\n", nbad);
    if (!nbad)
        fputs("<p>None: every case that ran passed.</p>\n", f);
    for (size_t o = 0; o < no; o++) {
        size_t k = order[o];
        for (size_t r = 0; r < nruns; r++) {
            const jv *c = cells[k][r];
            const char *v = c ? jstr(c, "verdict") : NULL;
            if (!bad_verdict(v))
                continue;
            fprintf(f, "<div class=\"det %s\" id=\"d-%zu-%zu\"><h3>%s <code>", v, r, k, v);
            h(f, ids[k]);
            fputs("</code> (", f);
            h(f, jstr(&runs[r], "label"));
            fputs(")</h3>\n<div>", f);
            h(f, jstr(c, "title"));
            fputs("</div>\n", f);
            const char *rule = jstr(c, "failed_rule");
            if (rule) {
                fputs("<div>rule <b>", f);
                h(f, rule);
                fputs("</b>: ", f);
                h(f, jstr(jget(&runs[r], "rules"), rule));
                fputs("</div>\n", f);
            }
            field(f, "expected", jstr(c, "expected"));
            field(f, "actual", jstr(c, "actual"));
            field(f, "hex dump", jstr(c, "hexdump"));
            field(f, "note", jstr(c, "note"));
            const jv *rep = jget(c, "reproducer");
            field(f, "replay", jstr(rep, "command"));
            field(f, "bytes sent", jstr(rep, "bin"));
            fputs("</div>\n", f);
        }
    }
    fputs("</section>\n", f);

    fputs("<section id=\"cases\">\n<h2>All cases</h2>\n"
          "<p id=\"bar\" hidden>Show: <button data-f=\"all\">all</button>"
          "<button data-f=\"bad\">not PASS somewhere</button>"
          "<button data-f=\"diff\">runs disagree</button> "
          "<input id=\"q\" placeholder=\"filter ids, tags\"></p>\n"
          "<table id=\"m\"><thead><tr><th>case</th><th>rule</th>",
          f);
    for (size_t r = 0; r < nruns; r++) {
        fputs("<th>", f);
        h(f, jstr(&runs[r], "label"));
        fputs(" (", f);
        h(f, jstr(&runs[r], "role"));
        fputs(")</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t o = 0; o < no; o++) {
        size_t k = order[o];
        const jv *any = NULL;
        for (size_t r = 0; r < nruns && !any; r++)
            any = cells[k][r];
        fputs("<tr data-v=\"", f);
        for (size_t r = 0; r < nruns; r++) {
            const char *v = cells[k][r] ? jstr(cells[k][r], "verdict") : NULL;
            fprintf(f, "%s", r ? " " : "");
            h(f, v ? v : "-");
        }
        fputs("\" data-q=\"", f);
        h(f, ids[k]);
        const jv *tags = jget(any, "tags");
        for (size_t t = 0; tags && tags->t == J_ARR && t < tags->n; t++)
            if (tags->kid[t].t == J_STR) {
                fputc(' ', f);
                h(f, tags->kid[t].s);
            }
        fputc(' ', f);
        h(f, jstr(any, "title"));
        fputs("\"><td class=\"id\" title=\"", f);
        h(f, jstr(any, "title"));
        fputs("\">", f);
        h(f, ids[k]);
        fputs("</td><td>", f);
        h(f, jstr(any, "rule"));
        fputs("</td>", f);
        for (size_t r = 0; r < nruns; r++) {
            const char *v = cells[k][r] ? jstr(cells[k][r], "verdict") : NULL;
            fputs("<td class=\"v ", f);
            h(f, v ? v : "");
            fputs("\">", f);
            if (bad_verdict(v))
                fprintf(f, "<a href=\"#d-%zu-%zu\">%s</a>", r, k, v);
            else
                h(f, v ? v : "-");
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n</section>\n", f);
    for (size_t k = 0; k < nrows; k++)
        free(cells[k]);
    free(cells);
    free(ids);
    free(order);
}

int vc_report_html(const char *path, const vc_run *run, const char **with, size_t nwith, char *err,
                   size_t errlen)
{
    size_t nruns = nwith + (run ? 1 : 0);
    jv *runs = calloc(nruns ? nruns : 1, sizeof *runs);
    if (!runs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t loaded = 0;
    int rc = 0;
    for (size_t i = 0; i < nwith && rc == 0; i++) {
        size_t len;
        char *buf = slurp(with[i], &len, err, errlen);
        rc = buf ? load_report(with[i], buf, len, &runs[loaded], err, errlen) : -1;
        free(buf);
        if (rc == 0)
            loaded++;
    }
    if (rc == 0 && run) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else {
            vc_report_json_to(m, run);
            fclose(m);
            rc = load_report("this run's report", buf, len, &runs[loaded], err, errlen);
            if (rc == 0)
                loaded++;
        }
        free(buf);
    }
    if (rc == 0) {
        FILE *f = fopen(path, "w");
        if (!f) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        } else {
            fputs(head, f);
            render(f, runs, loaded);
            fputs(script, f);
            fputs("</body></html>\n", f);
            if (fclose(f) != 0) {
                snprintf(err, errlen, "cannot write %s", path);
                rc = -1;
            }
        }
    }
    for (size_t i = 0; i < loaded; i++)
        jfree(&runs[i]);
    free(runs);
    return rc;
}

/* html.c - one self-contained HTML page: a matrix of cases by run, each cell
 * coloured by verdict and expandable to its expected/actual text and hex
 * dump.  Earlier runs (--html-with FILE.json) become extra columns, so
 * several implementations or roles can be compared side by side.  The
 * runs are embedded as JSON and drawn by a small inline script: no external
 * resources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

void vc_report_json_to(FILE *f, const vc_run *run);

static const char head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>vsok-conform report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "h1{font-size:1.4em;margin:0 0 .3em}\n"
    "table{border-collapse:collapse}\n"
    "td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top}\n"
    "th{background:#f4f4f4;position:sticky;top:0}\n"
    "td.id{font-family:monospace;cursor:pointer;white-space:nowrap}\n"
    ".PASS{background:#c8ecc8}.FAIL{background:#f5a3a3;font-weight:bold}\n"
    ".NON-STRICT{background:#fbe3a0}.SKIP{background:#eee;color:#888}.ERROR{background:#d9b3f0}\n"
    "td.v{text-align:center;cursor:pointer;white-space:nowrap}\n"
    "pre{margin:.2em 0;background:#fafafa;border:1px solid #eee;padding:4px;white-space:pre-wrap}\n"
    ".det td{background:#fcfcfc}.sum span{display:inline-block;margin-right:1em}\n"
    ".bar button{margin-right:.4em}\n"
    "</style></head><body>\n<h1>vsok-conform report</h1>\n<div id=\"sum\"></div>\n"
    "<p class=\"bar\">Show: <button data-f=\"all\">all</button><button data-f=\"bad\">"
    "not PASS anywhere</button><button data-f=\"diff\">runs disagree</button> "
    "<input id=\"q\" placeholder=\"filter ids, tags\"></p>\n"
    "<table id=\"m\"></table>\n<script>\nconst RUNS=[\n";

static const char tail[] =
    "];\n"
    "const V=['PASS','FAIL','NON-STRICT','SKIP','ERROR'];\n"
    "function el(t,a,...k){const e=document.createElement(t);for(const x in a||{})e.setAttribute(x,a[x]);"
    "for(const c of k)e.append(c);return e}\n"
    "const ids=[],by={};RUNS.forEach((r,i)=>r.cases.forEach(c=>{if(!by[c.id]){by[c.id]={c:c,r:[]};ids.push(c.id)}"
    "by[c.id].r[i]=c}));\n"
    "const sum=document.getElementById('sum');RUNS.forEach(r=>{const p=el('p',{class:'sum'},el('b',{},r.label+' ('+r.role+')'),"
    "' seed '+r.seed+', '+(r.duration_ms/1000).toFixed(1)+' s, '+r.started+': ');"
    "V.forEach(v=>p.append(el('span',{class:v},r.summary[v]+' '+v)));sum.append(p)});\n"
    "const m=document.getElementById('m');let filt='all',q='';\n"
    "function detail(id){const rows=[];RUNS.forEach((r,i)=>{const c=by[id].r[i];if(!c)return;"
    "const d=el('div',{},el('b',{},r.label+': '+c.verdict));"
    "if(c.failed_rule)d.append(el('div',{},'rule '+c.failed_rule+': '+(r.rules[c.failed_rule]||'')));"
    "for(const k of ['expected','actual','hexdump','note'])if(c[k])d.append(el('div',{},k+':'),el('pre',{},c[k]));"
    "if(c.reproducer)d.append(el('div',{},'replay:'),el('pre',{},c.reproducer.command+(c.reproducer.bin?'\\nbytes sent: '+c.reproducer.bin:'')));"
    "rows.push(d)});return rows}\n"
    "function draw(){m.textContent='';const h=el('tr',{},el('th',{},'case'),el('th',{},'rule'));"
    "RUNS.forEach(r=>h.append(el('th',{},r.label+' ('+r.role+')')));m.append(h);"
    "for(const id of ids){const e=by[id],vs=RUNS.map((r,i)=>e.r[i]?e.r[i].verdict:'');"
    "if(filt==='bad'&&vs.every(v=>v==='PASS'||v===''))continue;"
    "if(filt==='diff'&&new Set(vs).size<2)continue;"
    "if(q&&!(id+' '+e.c.tags.join(' ')+' '+e.c.title).includes(q))continue;"
    "const tr=el('tr',{},el('td',{class:'id',title:e.c.title},id),el('td',{},e.c.rule));"
    "vs.forEach(v=>tr.append(el('td',{class:'v '+v},v||'-')));"
    "tr.onclick=()=>{if(tr.nextSibling&&tr.nextSibling.className==='det'){tr.nextSibling.remove();return}"
    "const d=el('tr',{class:'det'},el('td',{colspan:2+RUNS.length},el('div',{},e.c.title),...detail(id)));"
    "tr.after(d)};m.append(tr)}}\n"
    "document.querySelectorAll('button').forEach(b=>b.onclick=()=>{filt=b.dataset.f;draw()});\n"
    "document.getElementById('q').oninput=ev=>{q=ev.target.value;draw()};draw();\n"
    "</script></body></html>\n";

/* Copies an earlier JSON report into the page; "</" is broken up so the
 * embedded text can never end the script element. */
static int embed(FILE *out, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    int c, prev = 0, first = -1;
    long n = 0;
    while ((c = fgetc(f)) != EOF) {
        if (++n > 256L * 1024 * 1024) {
            fclose(f);
            snprintf(err, errlen, "%s is larger than 256 MiB", path);
            return -1;
        }
        if (first < 0 && c > ' ')
            first = c;
        if (c == '/' && prev == '<')
            fputc('\\', out);
        fputc(c, out);
        prev = c;
    }
    fclose(f);
    if (first != '{') {
        snprintf(err, errlen, "%s is not a vsok-conform JSON report", path);
        return -1;
    }
    return 0;
}

int vc_report_html(const char *path, const vc_run *run, const char **with, size_t nwith,
                   char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fputs(head, f);
    int rc = 0;
    for (size_t i = 0; i < nwith && rc == 0; i++) {
        rc = embed(f, with[i], err, errlen);
        fputs(",\n", f);
    }
    if (run)
        vc_report_json_to(f, run);
    fputs(tail, f);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s", path);
        rc = -1;
    }
    return rc;
}

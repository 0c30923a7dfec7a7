package taccuino

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/web"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestIssue15PhoneWidth opens the patient's page and the AGP report at 390
// px (a phone) in headless Chromium and checks what the issue found: every
// element within the screen (before: the daily profiles, delegations and
// access log tables cut off on the right, the "Revoca" button and the
// "Esito" column out of sight; the AGP report wider than the screen), and
// the chart's axis labels readable, at least 10 px high (before: about 5).
func TestIssue15PhoneWidth(t *testing.T) {
	exe := chromiumPath()
	if exe == "" {
		t.Skip("SKIPPING BROWSER TEST: no Chromium found (install Debian's chromium: apt-get install -y chromium, or set FSECGM_CHROMIUM)")
	}
	d := newDemo(t)
	tok, err := d.iss.Issue(d.personas["patient"].Spec, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("SKIPPING BROWSER TEST: Chromium at %s did not start: %v", exe, err)
	}
	err = chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for name, v := range map[string]string{web.SessionCookie: tok, web.LangCookie: "it"} {
			if _, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: name, Value: v, URL: d.url, Path: "/"}); err != nil {
				return err
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	// offscreen lists the visible elements whose right edge is beyond the
	// screen, inside a scrolling box or not (visually hidden text excepted).
	const offscreen = `JSON.stringify([...document.querySelectorAll("body *")].filter(e => {
		const r = e.getBoundingClientRect(), s = getComputedStyle(e);
		return r.width > 1 && r.height > 1 && r.right > window.innerWidth + 1 && s.visibility !== "hidden" && !s.clip.startsWith("rect(0");
	}).slice(0, 6).map(e => e.tagName + (e.id ? "#" + e.id : "") + " " + (e.textContent || "").trim().slice(0, 20) + " → " + Math.round(e.getBoundingClientRect().right)))`
	const small = `JSON.stringify([...document.querySelectorAll("svg.chart text, figure[data-chart] svg text")].filter(t => t.getClientRects().length &&
		t.getBoundingClientRect().height < 10).slice(0, 4).map(t => t.textContent + " " + t.getBoundingClientRect().height.toFixed(1) + "px"))`
	for _, page := range []string{"/taccuino/p/" + d.mario, "/reports/agp/" + d.mario} {
		var wide, tiny string
		var sw, iw int
		err := chromedp.Do(ctx, chromedp.Navigate(d.url+page))
		if err == nil {
			wide, err = chromedp.Run(ctx, chromedp.Evaluate[string](offscreen))
		}
		if err == nil {
			tiny, err = chromedp.Run(ctx, chromedp.Evaluate[string](small))
		}
		if err == nil {
			sw, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		}
		if err == nil {
			iw, err = chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
		}
		if err != nil {
			t.Fatal(err)
		}
		var out, labels []string
		_ = json.Unmarshal([]byte(wide), &out)
		_ = json.Unmarshal([]byte(tiny), &labels)
		if len(out) > 0 {
			t.Errorf("%s at 390 px: elements beyond the screen: %s", page, strings.Join(out, "; "))
		}
		if sw > iw {
			t.Errorf("%s at 390 px: the page is %d px wide", page, sw)
		}
		if len(labels) > 0 {
			t.Errorf("%s at 390 px: chart labels too small to read: %s", page, strings.Join(labels, ", "))
		}
		if dir := os.Getenv("FSECGM_ISSUE15_SHOTS"); dir != "" {
			png, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(dir+"/"+strings.ReplaceAll(strings.Trim(page, "/"), "/", "-")+".png", png, 0o644)
		}
	}
}

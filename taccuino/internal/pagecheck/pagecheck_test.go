package pagecheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestChecksFindWhatTheyLookFor runs the checks on pages made to fail
// them, so that "0 violations" on the service's pages means axe-core and
// the other checks ran: an image without text, an input without label,
// grey on white, a table wider than a phone, English words and a "%!" on
// an Italian page, a chart label of 6 px.
func TestChecksFindWhatTheyLookFor(t *testing.T) {
	bad := `<!doctype html><html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>prova</title></head>
<body><main><h1>Pagina</h1><img src="x.png"><input id="q"><p style="color:#ccc">testo chiaro</p>
<p>to must not be before from</p><p>Pagina %!(EXTRA int=1)</p>
<table style="width:900px"><tr><td>largo</td></tr></table>
<svg class="chart" viewBox="0 0 1000 100" style="width:300px"><text x="10" y="50" font-size="20">70</text></svg></main></body></html>`
	good := `<!doctype html><html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>prova</title></head>
<style>input:focus, input[type=date]:focus-within { outline: 3px solid #ffbf47 }</style>
<body><main><h1>Pagina</h1><label for="q">Cerca</label><input id="q"><label for="d">Dal</label><input type="date" id="d">
<fieldset><legend>Modo</legend><label><input type="radio" name="m" value="a" checked> uno</label><label><input type="radio" name="m" value="b"> due</label></fieldset>
<p>Il periodo è di quattordici giorni.</p><p>Dispositivo: <strong translate="no">OMRON connect</strong></p>
<a href="/" lang="en" hreflang="en">English</a></main></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/bad" {
			_, _ = w.Write([]byte(bad))
			return
		}
		_, _ = w.Write([]byte(good))
	}))
	defer srv.Close()
	b := New(t)
	b.Viewport(390, 844)
	b.Navigate(srv.URL + "/bad")
	problems := strings.Join(b.Check("bad"), "\n")
	for _, want := range []string{"axe image-alt", "axe label", "axe color-contrast", "px wide on a 390 px screen", `"must"`, "%!(EXTRA", "chart text smaller"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the checks did not find %q on the bad page:\n%s", want, problems)
		}
	}
	b.Navigate(srv.URL + "/good")
	if p := b.Check("good"); len(p) != 0 {
		t.Errorf("the good page has problems: %v", p)
	}
	b.Viewport(1280, 900)
	if p := b.Keyboard("good"); len(p) != 0 {
		t.Errorf("keyboard on the good page: %v", p)
	}
}

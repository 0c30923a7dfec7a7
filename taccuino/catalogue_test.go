package taccuino

import (
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/ui"

	"golang.org/x/net/html"
)

// pseudoText returns what a page says that did not come from the catalogue:
// the page is asked for in the test language (locale.Pseudo), where every
// text of the catalogue is marked ⟦…⟧; the marked texts are removed, and so
// are the data a page shows (numbers, dates, names, fiscal codes, ids,
// units), so that what is left is a text some code wrote outside the
// catalogue. It reads text nodes and the attributes people meet (title,
// aria-label, placeholder, alt, data-label, a button's value).
func pseudoText(page string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"not HTML: " + err.Error()}
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "textarea") {
			return // code, or what the person typed
		}
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "title", "aria-label", "placeholder", "alt", "data-label":
					out = append(out, leftover(a.Val)...)
				case "lang":
					if a.Val != string(locale.Pseudo) {
						return // a link to the page in its own language ("English")
					}
				case "translate":
					if a.Val == "no" {
						return // quoted as written (a file's column name and value)
					}
				}
			}
		}
		if n.Type == html.TextNode {
			out = append(out, leftover(n.Data)...)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

var (
	marked = regexp.MustCompile(locale.PseudoOpen + `[^` + locale.PseudoOpen + locale.PseudoClose + `]*` + locale.PseudoClose)
	// data are what a page shows that is not a text: numbers, dates and
	// times, percentages, units, fiscal codes, ids (of clients, connections,
	// organisations), e-mail addresses,
	// the demo people's names, the GRI zones' letters, symbols.
	data = []*regexp.Regexp{
		regexp.MustCompile(`^[\p{N}\p{P}\p{S}]+$`),
		regexp.MustCompile(`^(mg/dL|mmol/L|mmol/mol|min|h|LO|HI|GMI|CV|TIR|HbA1c|AGP|GRI)$`),
		regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`),
		regexp.MustCompile(`^[0-9a-f]{16,}$`),
		regexp.MustCompile(`^[\w.+-]+@[\w.-]+$`),
		regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`), // client and connection ids
		regexp.MustCompile(`^[A-Z0-9]+(-[A-Z0-9]+)+$`), // organisation ids
		regexp.MustCompile(`^[A-E]$`),                  // the GRI zones
		regexp.MustCompile(`^(dott|dott\.ssa|Mario|Rossi|Giulia|Bianchi|Anna|Luca|Verdi|Sara|Neri|Paolo|Marco|Galli|Nora|Nuova|Carla|Conti|Nome|Cognome)\.?$`),
	}
)

// leftover returns the words of s outside the catalogue's marked texts that
// are not data.
func leftover(s string) []string {
	for {
		t := marked.ReplaceAllString(s, " ")
		if t == s {
			break
		}
		s = t
	}
	var out []string
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, "()[]{},;:«»\"'")
		if w == "" {
			continue
		}
		ok := false
		for _, re := range data {
			if re.MatchString(w) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, w)
		}
	}
	return out
}

// TestPagesFromCatalogue opens every page, form shown again and error page
// of the demo as each persona in the test language, and fails on any text
// a person reads that did not come from the catalogue (package locale): a
// string of the Go code or of a template rendered into a page.
func TestPagesFromCatalogue(t *testing.T) {
	locale.EnablePseudo()
	d := newDemo(t)
	type visit struct {
		persona, path string
		post          url.Values // a form posted to path from the patient's page
	}
	mario, giulia := "/taccuino/p/"+d.mario, "/taccuino/p/"+d.giulia
	visits := []visit{
		{"", "/login", nil}, {"", "/privacy", nil}, {"", "/taccuino", nil}, {"", "/nessuna-pagina", nil},
		{"patient", "/taccuino", nil}, {"patient", mario, nil}, {"patient", mario + "?from=2026-03-10&to=2026-03-01", nil},
		{"patient", mario + "?from=2026-02-30&to=2026-03-01", nil},
		{"patient", mario + "/delegations", url.Values{"delegate_fiscal_code": {"RSSMRA"}, "expires_at": {"2030-01-31"}}},
		{"patient", mario + "/delegations", url.Values{"delegate_fiscal_code": {DemoPatientCF}, "expires_at": {"2000-01-31"}}},
		{"patient", mario + "/connections", url.Values{"mode": {"patient"}, "email": {"x@example.invalid"}, "password": {"p"},
			"privacy_notice_version": {PrivacyNoticeVersion}}},
		{"patient", mario + "/connections", url.Values{"mode": {"patient"}, "email": {""}, "password": {""}}},
		{"patient", mario + "/uploaders", nil}, {"patient", mario + "/uploaders", url.Values{"label": {""}}},
		{"patient", mario + "/uploaders", url.Values{"label": {"xDrip+"}}}, {"patient", mario + "/uploaders", nil},
		{"patient", mario + "/uploaders?msg=revoked", nil}, {"parent", giulia + "/uploaders", nil}, {"mmg", mario + "/uploaders", nil},
		{"patient", "/reports/agp/" + d.mario, nil}, {"patient", "/reports/agp/" + d.mario + "?from=2026-03-10&to=2026-03-01", nil},
		{"patient", "/clinic", nil},
		{"parent", "/taccuino", nil}, {"parent", giulia, nil}, {"parent", "/reports/agp/" + d.giulia, nil},
		{"delegate", "/taccuino", nil}, {"delegate", mario, nil}, {"delegate", mario + "/consent", url.Values{"granted": {"false"}}},
		{"mmg", "/taccuino", nil}, {"mmg", "/clinic", nil}, {"mmg", "/clinic?counts=1", nil}, {"mmg", mario, nil},
		{"mmg", giulia, nil}, {"mmg", "/reports/agp/" + d.mario, nil},
		{"mmg", "/taccuino/find", url.Values{"fiscal_code": {"ABC"}}},
		{"diabetologist", "/clinic", nil}, {"diabetologist", "/clinic", url.Values{"q": {strings.Repeat("x", 70)}}},
		{"diabetologist", "/reports/agp/" + d.mario, nil},
		{"diabetologist", "/reports/agp/" + d.mario + "/clinical", url.Values{"diabetes_type": {"x"}, "note": {"nota"}}},
	}
	checked := 0
	for _, v := range visits {
		s := d.asLang(v.persona, string(locale.Pseudo))
		var status int
		var page string
		if v.post != nil {
			from := mario
			switch {
			case strings.HasPrefix(v.path, "/clinic"):
				from = "/clinic"
			case strings.HasPrefix(v.path, "/reports/"):
				from = "/reports/agp/" + d.mario
			case strings.HasPrefix(v.path, "/taccuino/find"):
				from = "/taccuino"
			}
			status, _, page = s.post(from, v.path, v.post)
		} else {
			status, page = s.get(v.path)
		}
		if status == http.StatusInternalServerError {
			t.Errorf("%s %s: status 500", v.persona, v.path)
		}
		if !strings.Contains(page, `lang="qps"`) {
			t.Errorf("%s %s: not in the test language (%d)", v.persona, v.path, status)
			continue
		}
		if words := pseudoText(page); len(words) > 0 {
			t.Errorf("%s %s (%d): text outside the catalogue: %q", v.persona, v.path, status, words)
		}
		checked++
	}
	// Uploads: lines refused, a file of no known format, an export its
	// parser cannot read, another person's export, and a file imported with
	// a time given twice.
	row := func(ts, v string) string { return "FreeStyle LibreLink,SN1," + ts + ",0," + v + ",,,,,,,,,,,,,," }
	clarity, err := os.ReadFile("../connectors/clarity/testdata/g7_mmol_gap.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range []struct{ name, data string }{
		{"bad.csv", "id,time,gl\nme,2026-03-01T10:00:00+01:00,abc\nme,2026-03-01T10:15:00,120\n"},
		{"note.csv", "hello,world\n1,2\n"},
		{"lv.csv", "Glucose Data,Generated on,03-07-2024 10:31 UTC,Generated by,X\n" +
			"Device,Serial Number,Device Timestamp,Record Type,Historic Glucose,Scan Glucose mg/dL,a,b,c,d,e,f,g,h,Strip Glucose mg/dL,k,l,m,n\n"},
		{"clarity.csv", string(clarity)},
		{"twice.csv", "Glucose Data,Generated on,03-07-2024 10:31 AM UTC,Generated by,X\n" +
			"Device,Serial Number,Device Timestamp,Record Type,Historic Glucose mg/dL,Scan Glucose mg/dL,a,b,c,d,e,f,g,Notes,Strip Glucose mg/dL,h,i,j,k\n" +
			row("10-13-2023 10:31 PM", "341") + "\n" + row("10-13-2023 10:31 PM", "443") + "\n" + row("10-13-2023 10:46 PM", "441") + "\n"},
	} {
		s := d.asLang("patient", string(locale.Pseudo))
		status, page := s.upload(mario, mario+"/imports", up.name, up.data, false)
		if status == http.StatusInternalServerError || !strings.Contains(page, `lang="qps"`) {
			t.Errorf("upload %s: %d", up.name, status)
			continue
		}
		if words := pseudoText(page); len(words) > 0 {
			t.Errorf("upload %s (%d): text outside the catalogue: %q", up.name, status, words)
		}
		if up.name == "twice.csv" && !strings.Contains(page, `id="conflicts"`) {
			t.Errorf("upload %s (%d): no conflicts listed", up.name, status)
		}
		checked++
	}
	if checked < 35 {
		t.Errorf("only %d pages checked", checked)
	}
}

// TestTemplateKeys checks every catalogue key the templates name ({{.L.T
// "key"}}, {{.L.F "key" …}}) exists, and that no template writes a word
// outside the catalogue: with its actions taken out, the template's text
// nodes and the attributes people read hold no word but a unit, an
// acronym or a language's own name.
func TestTemplateKeys(t *testing.T) {
	type tmpl struct {
		name string
		fsys fs.FS
		glob string
	}
	sets := []tmpl{{"taccuino", assets, "templates/*.html"}, {"ui", ui.FS(), "*.html"}, {"agpdoc", agpdoc.Templates(), "templates/*.html"},
		{"reports", reports.Templates(), "templates/*.html"}}
	keyRE := regexp.MustCompile(`\.(?:T|F) "([a-z0-9_.-]+)"`)
	actions := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	allowed := regexp.MustCompile(`^(mg/dL|GMI|GRI|Italiano|English|Message-ID)$`)
	letters := regexp.MustCompile(`\p{L}`)
	n := 0
	for _, set := range sets {
		files, err := fs.Glob(set.fsys, set.glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no templates (%v)", set.name, err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(set.fsys, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
				n++
				if !locale.Has(m[1]) {
					t.Errorf("%s/%s: key %q is not in the catalogue", set.name, f, m[1])
				}
			}
			text := actions.ReplaceAllString(string(b), "0")
			z := html.NewTokenizer(strings.NewReader(text))
			skip := 0
			check := func(s string) {
				for _, w := range strings.Fields(s) {
					w = strings.Trim(w, "()[]{},;:·«»\"'←→✓✗…")
					if letters.MatchString(w) && !allowed.MatchString(w) {
						t.Errorf("%s/%s: the template writes %q outside the catalogue", set.name, f, w)
					}
				}
			}
			for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
				tok := z.Token()
				switch tt {
				case html.StartTagToken, html.SelfClosingTagToken:
					if tok.Data == "style" || tok.Data == "script" {
						skip++
					}
					for _, a := range tok.Attr {
						switch a.Key {
						case "title", "aria-label", "placeholder", "alt", "data-label":
							check(a.Val)
						}
					}
				case html.EndTagToken:
					if tok.Data == "style" || tok.Data == "script" {
						skip--
					}
				case html.TextToken:
					if skip == 0 {
						check(tok.Data)
					}
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d catalogue keys found in the templates", n)
	}
}

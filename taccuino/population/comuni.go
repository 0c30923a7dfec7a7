package population

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ComuniColumns are the columns of the comuni list LoadComuni reads, in
// any order: the comune's ISTAT code (six digits: the province's three and
// the comune's progressive three, ISTAT, "Codici statistici delle unità
// amministrative territoriali"), its name, the code and name of its
// zona-distretto (L.R. Toscana 24 febbraio 2005, n. 40, art. 64 and
// Allegato B, as amended) and the code of its Azienda USL (L.R. Toscana 28
// dicembre 2015, n. 84: TC, NO, SE). It is the ISTAT list of the Tuscan
// comuni joined with the Region's list of the zone-distretto.
var ComuniColumns = []string{"istat", "comune", "zona", "zona_nome", "asl"}

// ComuniResult counts what LoadComuni changed.
type ComuniResult struct {
	// Comuni is the number of comuni in the file; Added, Changed and
	// Removed those new, changed (name or zone) and no longer listed.
	Comuni, Added, Changed, Removed int
	// Zones is the number of zone-distretto in the file; ZonesAdded,
	// ZonesChanged and ZonesRemoved as for the comuni.
	Zones, ZonesAdded, ZonesChanged, ZonesRemoved int
}

// ComuniError is a problem of the file at a line (1 the header) and
// column.
type ComuniError struct {
	Line   int
	Column string
	Msg    string
}

func (e *ComuniError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("comuni: line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("comuni: line %d, column %s: %s", e.Line, e.Column, e.Msg)
}

var (
	istatRe = regexp.MustCompile(`^[0-9]{6}$`)
	zoneRe  = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
)

// comuneLine is a line of the list.
type comuneLine struct {
	line                        int
	istat, name, zone, zoneName string
	authority                   string
}

// parseComuni reads the comuni list: CSV in UTF-8 (a byte order mark is
// skipped), comma- or semicolon-separated (as the header line is), with a
// header naming ComuniColumns (case and surrounding spaces ignored; other
// columns ignored). It rejects the whole file at the first problem, saying
// where: a missing column, a malformed or repeated ISTAT code, an empty or
// overlong name, a malformed zone code, a zone given two names or two
// ASLs.
func parseComuni(r io.Reader) ([]comuneLine, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(3)
	if err == nil && bytes.Equal(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	first, _ := br.Peek(4096)
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	cr := csv.NewReader(br)
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, &ComuniError{Line: 1, Msg: "no header line: want " + strings.Join(ComuniColumns, ", ")}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, c := range ComuniColumns {
		if _, ok := col[c]; !ok {
			return nil, &ComuniError{Line: 1, Column: c, Msg: "missing from the header (want " + strings.Join(ComuniColumns, ", ") + ")"}
		}
	}
	var out []comuneLine
	seen := map[string]int{}
	zones := map[string]comuneLine{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ComuniError{Line: pe.Line, Msg: pe.Err.Error()}
			}
			return nil, fmt.Errorf("comuni: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		l := comuneLine{line: line, istat: get("istat"), name: get("comune"), zone: get("zona"), zoneName: get("zona_nome"), authority: get("asl")}
		bad := func(c, msg string) error { return &ComuniError{Line: line, Column: c, Msg: msg} }
		name := func(c, v string) error {
			if v == "" || !utf8.ValidString(v) || len(v) > 128 {
				return bad(c, fmt.Sprintf("%q: want a name of 1 to 128 bytes of UTF-8", v))
			}
			return nil
		}
		switch {
		case !istatRe.MatchString(l.istat):
			return nil, bad("istat", fmt.Sprintf("%q: want the six digits of an ISTAT code", l.istat))
		case seen[l.istat] > 0:
			return nil, bad("istat", fmt.Sprintf("%s already on line %d", l.istat, seen[l.istat]))
		case !zoneRe.MatchString(l.zone):
			return nil, bad("zona", fmt.Sprintf("%q: want a code of lower-case letters, digits and hyphens", l.zone))
		case l.authority == "":
			return nil, bad("asl", "empty: want the code of the Azienda USL (TC, NO, SE)")
		}
		if err := name("comune", l.name); err != nil {
			return nil, err
		}
		if err := name("zona_nome", l.zoneName); err != nil {
			return nil, err
		}
		if z, ok := zones[l.zone]; ok && (z.zoneName != l.zoneName || z.authority != l.authority) {
			return nil, bad("zona", fmt.Sprintf("zone %s is %q of %s on line %d, %q of %s here", l.zone, z.zoneName, z.authority, z.line, l.zoneName, l.authority))
		}
		zones[l.zone] = l
		seen[l.istat] = line
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, &ComuniError{Line: 2, Msg: "no comune in the file"}
	}
	return out, nil
}

// LoadComuni replaces the table of the comuni and their zone-distretto
// (migration 00100: municipalities, health_districts) with the list read
// from r (parseComuni), in one transaction: comuni and zones are added or
// corrected, those no longer listed removed; the ASLs must exist. A
// residence in a comune no longer listed is kept (the registry is right)
// and counted under the unknown zone. The population view is marked for a
// rebuild (population_state.dirty). Nothing is written when the file or
// an ASL is wrong.
func LoadComuni(ctx context.Context, pool *pgxpool.Pool, r io.Reader) (ComuniResult, error) {
	var res ComuniResult
	lines, err := parseComuni(r)
	if err != nil {
		return res, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var asls []string
		rows, err := tx.Query(ctx, `SELECT code FROM health_authorities`)
		if err != nil {
			return err
		}
		if asls, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		type zone struct{ name, authority string }
		zones := map[string]zone{}
		for _, l := range lines {
			if !slices.Contains(asls, l.authority) {
				return &ComuniError{Line: l.line, Column: "asl", Msg: fmt.Sprintf("%q: not an Azienda USL of the table (%s)", l.authority, strings.Join(asls, ", "))}
			}
			zones[l.zone] = zone{l.zoneName, l.authority}
		}
		res.Comuni, res.Zones = len(lines), len(zones)
		old := map[string]zone{}
		rows, err = tx.Query(ctx, `SELECT code, name, authority FROM health_districts`)
		if err != nil {
			return err
		}
		var code string
		var z zone
		if _, err := pgx.ForEachRow(rows, []any{&code, &z.name, &z.authority}, func() error { old[code] = z; return nil }); err != nil {
			return err
		}
		for c, z := range zones {
			if o, ok := old[c]; !ok {
				res.ZonesAdded++
			} else if o != z {
				res.ZonesChanged++
			}
			if _, err := tx.Exec(ctx, `INSERT INTO health_districts (code, name, authority) VALUES ($1, $2, $3)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name, authority = excluded.authority`, c, z.name, z.authority); err != nil {
				return fmt.Errorf("zone %s: %w", c, err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE comuni_new (istat text, name text, district text) ON COMMIT DROP`); err != nil {
			return err
		}
		src := make([][]any, len(lines))
		for i, l := range lines {
			src[i] = []any{l.istat, l.name, l.zone}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"comuni_new"}, []string{"istat", "name", "district"}, pgx.CopyFromRows(src)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT
				count(*) FILTER (WHERE m.istat IS NULL),
				count(*) FILTER (WHERE m.istat IS NOT NULL AND (m.name <> n.name OR m.district <> n.district))
			FROM comuni_new n LEFT JOIN municipalities m USING (istat)`).Scan(&res.Added, &res.Changed); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM municipalities m WHERE NOT EXISTS (SELECT 1 FROM comuni_new n WHERE n.istat = m.istat)`)
		if err != nil {
			return err
		}
		res.Removed = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `INSERT INTO municipalities (istat, name, district) SELECT istat, name, district FROM comuni_new
			ON CONFLICT (istat) DO UPDATE SET name = excluded.name, district = excluded.district`); err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, `DELETE FROM health_districts d WHERE NOT (d.code = ANY($1))`, mapKeys(zones))
		if err != nil {
			return err
		}
		res.ZonesRemoved = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `UPDATE population_state SET dirty = true WHERE id = 1`)
		return err
	})
	if err != nil {
		var ce *ComuniError
		if errors.As(err, &ce) {
			return ComuniResult{}, err
		}
		return ComuniResult{}, fmt.Errorf("population: comuni: %w", err)
	}
	return res, nil
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

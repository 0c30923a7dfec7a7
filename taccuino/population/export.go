package population

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExportOptions configure a de-identified study export.
type ExportOptions struct {
	// Study names the approved study (letters, digits, . _ -; up to 64).
	Study string
	// Key is the study's secret (at least 32 bytes): the study pseudonyms
	// are HMAC-SHA256 under it, so that two studies' rows cannot be linked
	// and the study cannot link its rows to the service's pseudonyms.
	Key []byte
	// Operator names who made the export, for the log.
	Operator string
	// Kind and Month choose the period: the latest 14 or 90 days, or the
	// month starting Month (Kind Month).
	Kind  PeriodKind
	Month time.Time
	// K is the k of the k-anonymity (DefaultK when 0).
	K int
	// Now is the clock of the log (time.Now when nil).
	Now func() time.Time
}

// ExportResult counts an export's rows.
type ExportResult struct {
	// Rows were written; Generalised of them carry a generalised age band
	// or ASL; Dropped rows were left out (their group stayed smaller than
	// k at every level of generalisation).
	Rows, Generalised, Dropped int
	// KeyFingerprint identifies the study key (HMAC of a fixed text under
	// it), never the key.
	KeyFingerprint string
}

var studyName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ExportColumns are the columns of the study export: no fiscal code,
// name, birth date or exact date; the period by its kind and the month it
// ends in.
var ExportColumns = []string{"study_pseudonym", "period", "period_end_month", "age_band", "sex", "asl", "diabetes_type",
	"days_worn", "active_percent", "sufficient", "tir", "tbr", "tbr54", "tar", "tar250", "gmi", "cv", "gri", "gri_zone"}

// Export writes the de-identified rows of one period as CSV to w, one row
// per member with a study pseudonym, and logs the export
// (population_exports). The quasi-identifiers (age band, sex, ASL,
// diabetes type) are k-anonymous (Sweeney L, "k-anonymity: a model for
// protecting privacy", Int J Uncertainty Fuzziness Knowledge-Based Syst
// 2002;10:557): every combination of them in the file is shared by at
// least k rows. Rows of smaller groups are generalised step by step (the
// age band to a coarse band: minors, 18–64, 65 and over; then to any age;
// then the ASL to any), each step over the rows still in small groups,
// and rows still in a group smaller than k are dropped; the result says
// how many of each. It reads the pseudonymised tables only.
func Export(ctx context.Context, pool *pgxpool.Pool, o ExportOptions, w io.Writer) (ExportResult, error) {
	var res ExportResult
	switch {
	case !studyName.MatchString(o.Study):
		return res, fmt.Errorf("population: export: study %q: want 1 to 64 letters, digits, '.', '_' or '-'", o.Study)
	case len(o.Key) < 32:
		return res, fmt.Errorf("population: export: the study key has %d bytes, want at least 32", len(o.Key))
	case strings.TrimSpace(o.Operator) == "":
		return res, errors.New("population: export: the operator is required")
	}
	if o.K <= 0 {
		o.K = DefaultK
	}
	if o.Kind == 0 {
		o.Kind = Days14
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	fp := hmac.New(sha256.New, o.Key)
	fp.Write([]byte("fsecgm study key fingerprint"))
	res.KeyFingerprint = hex.EncodeToString(fp.Sum(nil)[:8])

	q := `SELECT max(start) FROM population_periods WHERE kind = $1`
	args := []any{int16(o.Kind)}
	if !o.Month.IsZero() {
		q = `SELECT max(start) FROM population_periods WHERE kind = $1 AND start = $2`
		args = append(args, civilDate(o.Month))
	}
	var start *time.Time
	if err := pool.QueryRow(ctx, q, args...).Scan(&start); err != nil {
		return res, fmt.Errorf("population: export: %w", err)
	}
	if start == nil {
		return res, ErrNoRelease
	}
	rows, err := pool.Query(ctx, `SELECT m.pseudonym, p.last, coalesce(nullif(m.age_band, '?'), ''), m.sex, coalesce(m.authority, ''),
			m.diabetes_type, p.days_worn, p.active_percent, p.sufficient, p.tir, p.tbr, p.tbr54, p.tar, p.tar250, p.gmi, p.cv, p.gri, p.gri_zone
		FROM population_periods p JOIN population_members m ON m.pseudonym = p.pseudonym
		WHERE p.kind = $1 AND p.start = $2`, int16(o.Kind), *start)
	if err != nil {
		return res, fmt.Errorf("population: export: %w", err)
	}
	type row struct {
		qi     [4]string // age band, sex, ASL, diabetes type
		level  int
		values []string
	}
	var (
		all       []*row
		ps        string
		last      time.Time
		qi        [4]string
		days      int32
		active    float64
		suff      bool
		f         [8]*float64
		zone      *int16
		numOrNull = func(x *float64) string {
			if x == nil {
				return ""
			}
			return strconv.FormatFloat(*x, 'g', -1, 64)
		}
	)
	_, err = pgx.ForEachRow(rows, []any{&ps, &last, &qi[0], &qi[1], &qi[2], &qi[3], &days, &active, &suff,
		&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &zone}, func() error {
		m := hmac.New(sha256.New, o.Key)
		m.Write([]byte("fsecgm study\x00" + o.Study + "\x00" + ps))
		z := ""
		if zone != nil && *zone >= 1 && int(*zone) <= len(GRIZones) {
			z = GRIZones[*zone-1]
		}
		v := []string{hex.EncodeToString(m.Sum(nil)[:16]), o.Kind.String(), last.Format("2006-01"), "", "", "", "",
			strconv.Itoa(int(days)), strconv.FormatFloat(active, 'g', -1, 64), strconv.FormatBool(suff)}
		for _, x := range f {
			v = append(v, numOrNull(x))
		}
		v = append(v, z)
		all = append(all, &row{qi: qi, values: v})
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("population: export: %w", err)
	}
	// Generalisation levels of the quasi-identifiers.
	gen := func(r *row, level int) [4]string {
		g := r.qi
		if g[2] == "" {
			g[2] = "unknown"
		}
		if g[3] == "" {
			g[3] = "unknown"
		}
		if g[0] == "" {
			g[0] = "unknown"
		}
		switch level {
		case 1:
			g[0] = Coarsen(r.qi[0])
		case 2:
			g[0] = AnyAge
		case 3:
			g[0], g[2] = AnyAge, "any"
		}
		return g
	}
	pending := all
	var out []*row
	for level := 0; level <= 3 && len(pending) > 0; level++ {
		groups := map[[4]string][]*row{}
		for _, r := range pending {
			g := gen(r, level)
			groups[g] = append(groups[g], r)
		}
		pending = nil
		for g, rs := range groups {
			if len(rs) < o.K {
				pending = append(pending, rs...)
				continue
			}
			for _, r := range rs {
				r.level = level
				copy(r.values[3:7], g[:])
				out = append(out, r)
			}
		}
	}
	res.Dropped = len(pending)
	slices.SortFunc(out, func(a, b *row) int { return strings.Compare(a.values[0], b.values[0]) })
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return res, fmt.Errorf("population: export: %w", err)
	}
	for _, r := range out {
		if r.level > 0 {
			res.Generalised++
		}
		if err := cw.Write(r.values); err != nil {
			return res, fmt.Errorf("population: export: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return res, fmt.Errorf("population: export: %w", err)
	}
	res.Rows = len(out)
	if _, err := pool.Exec(ctx, `INSERT INTO population_exports (at, study, operator, kind, start, k, rows_out, generalised, dropped, key_fingerprint)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, o.Now(), o.Study, o.Operator, int16(o.Kind), *start, o.K,
		res.Rows, res.Generalised, res.Dropped, res.KeyFingerprint); err != nil {
		return res, fmt.Errorf("population: export: log: %w", err)
	}
	return res, nil
}

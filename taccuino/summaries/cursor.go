package summaries

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrCursor is returned by Store.List for a cursor it did not write, or
// one written for the other order.
var ErrCursor = errors.New("summaries: not a cursor of this list")

// cursor is a position in the clinic list: the sort keys of one row. A
// page after it (or before it) starts where the index of its order holds
// these keys, so that every page costs what the first one costs (keyset
// pagination; the expressions are those of migration 00042).
type cursor struct {
	// Order is "a" (attention order) or "g" (by GRI).
	Order    string   `json:"o"`
	Category int16    `json:"c,omitempty"`
	Severity float64  `json:"s,omitempty"`
	Last     *int64   `json:"l,omitempty"` // last reading, Unix microseconds
	GRI      *float64 `json:"g,omitempty"`
	ID       int64    `json:"p"`
}

func orderCode(byGRI bool) string {
	if byGRI {
		return "g"
	}
	return "a"
}

// String encodes c for a URL (base64url of its JSON, without padding): the
// cursor is opaque to clients.
func (c cursor) String() string {
	b, _ := json.Marshal(c) // no value of a cursor fails to marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor decodes String's output for the order byGRI.
func parseCursor(s string, byGRI bool) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(s) <= 512 {
		err = json.Unmarshal(b, &c)
	} else if err == nil {
		err = errors.New("too long")
	}
	if err == nil && (c.Order != orderCode(byGRI) || c.ID <= 0 || c.ID > math.MaxInt32 ||
		math.IsNaN(c.Severity) || math.IsInf(c.Severity, 0) || (c.GRI != nil && (math.IsNaN(*c.GRI) || math.IsInf(*c.GRI, 0)))) {
		err = errors.New("wrong order or keys")
	}
	if err != nil {
		return cursor{}, fmt.Errorf("%w (%v)", ErrCursor, err)
	}
	return c, nil
}

// cursorOf returns the cursor of a row with these keys.
func cursorOf(byGRI bool, e Entry, last *time.Time, gri *float64) cursor {
	c := cursor{Order: orderCode(byGRI), ID: e.PatientID}
	if byGRI {
		c.GRI = gri
		return c
	}
	c.Category, c.Severity = int16(e.Category), e.Severity
	if last != nil {
		us := last.UnixMicro()
		c.Last = &us
	}
	return c
}

// Sort keys of the two orders, all ascending, as the indexes of migration
// 00042 hold them: a page is a row comparison (keys) > (cursor's keys) and
// an index range scan from there. The descending keys are negated: the
// severity, the last reading as its distance to a fixed future instant
// (none: larger than any), the GRI (none: +Infinity).
var (
	attentionKeys = []string{`s.category`, `(-s.severity)`,
		`(coalesce(timestamptz '2100-01-01 00:00:00+00' - s.last_reading_at, interval '1000000 days'))`, `s.patient_id`}
	griKeys = []string{`(coalesce(-s.gri, 'Infinity'::float8))`, `s.patient_id`}
)

// row returns the row of c's keys, with its arguments added by arg.
func (c cursor) row(arg func(any) string) string {
	if c.Order == "g" {
		return `(coalesce(-(` + arg(c.GRI) + `::float8), 'Infinity'::float8), ` + arg(int32(c.ID)) + `::int4)`
	}
	var last *time.Time
	if c.Last != nil {
		t := time.UnixMicro(*c.Last).UTC()
		last = &t
	}
	return `(` + arg(c.Category) + `::int2, -(` + arg(c.Severity) + `::float8), coalesce(timestamptz '2100-01-01 00:00:00+00' - ` +
		arg(last) + `::timestamptz, interval '1000000 days'), ` + arg(int32(c.ID)) + `::int4)`
}

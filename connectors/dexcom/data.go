package dexcom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/internal/upstream"
)

// WireEGV is an EGV record as the API sends it (getEstimatedGlucoseValuesV3).
type WireEGV struct {
	RecordID              string   `json:"recordId"`
	SystemTime            string   `json:"systemTime"`
	DisplayTime           string   `json:"displayTime"`
	TransmitterID         *string  `json:"transmitterId"`
	TransmitterTicks      int64    `json:"transmitterTicks"`
	Value                 *float64 `json:"value"`
	Status                *string  `json:"status"`
	Trend                 *string  `json:"trend"`
	TrendRate             *float64 `json:"trendRate"`
	Unit                  string   `json:"unit"`
	RateUnit              string   `json:"rateUnit"`
	DisplayDevice         string   `json:"displayDevice"`
	TransmitterGeneration string   `json:"transmitterGeneration"`
}

// wireRecords is the envelope of the v3 record endpoints.
type wireRecords[T any] struct {
	RecordType    string `json:"recordType"`
	RecordVersion string `json:"recordVersion"`
	UserID        string `json:"userId"`
	Records       []T    `json:"records"`
}

// EGVs is the answer of one or more egvs requests, translated.
type EGVs struct {
	// UserID is the id Dexcom gives the user for this application (the
	// same for every request of this application, another for others).
	UserID string
	// Readings are the values, as historic readings (an EGV every 5
	// minutes), oldest first; each names its transmitter as device.
	Readings []cgm.Reading
	// Records counts the records answered; Skipped those without a
	// glucose (status unknown, no value) or not readable, with Problems
	// saying why (at most 20).
	Records, Skipped int
	Problems         []string
}

// EGVs returns the user's estimated glucose values of [from, to), in
// windows of at most MaxWindow (the API's limit), oldest first.
func (c *Client) EGVs(ctx context.Context, accessToken string, from, to time.Time) (*EGVs, error) {
	out := &EGVs{}
	seen := map[int64]bool{}
	for start := from.UTC(); start.Before(to); start = start.Add(MaxWindow) {
		end := start.Add(MaxWindow)
		if end.After(to) {
			end = to.UTC()
		}
		q := url.Values{}
		q.Set("startDate", start.Format(TimeLayout))
		q.Set("endDate", end.Format(TimeLayout))
		r, err := c.send(ctx, opEGVs, http.MethodGet, c.base+"/v3/users/self/egvs?"+q.Encode(), nil, accessToken)
		if err != nil {
			return nil, err
		}
		if e := c.check(opEGVs, r); e != nil {
			return nil, e
		}
		var w wireRecords[WireEGV]
		if err := json.Unmarshal(r.body, &w); err != nil {
			return nil, &Error{Kind: KindMalformedJSON, Op: opEGVs, HTTPStatus: r.status, Err: err}
		}
		if w.Records == nil {
			return nil, &Error{Kind: KindMalformedJSON, Op: opEGVs, HTTPStatus: r.status, Message: "records missing"}
		}
		if w.UserID != "" {
			out.UserID = w.UserID
		}
		for i, rec := range w.Records {
			out.Records++
			rd, ok, why := rec.Reading()
			if !ok {
				out.Skipped++
				if why != "" && len(out.Problems) < 20 {
					out.Problems = append(out.Problems, fmt.Sprintf("records/%d: %s", i, why))
				}
				continue
			}
			// Windows meet at their ends: a record at the boundary comes
			// once.
			if us := rd.Time.UnixMicro(); !seen[us] {
				seen[us] = true
				out.Readings = append(out.Readings, rd)
			}
		}
	}
	sortReadings(out.Readings)
	return out, nil
}

// Reading translates an EGV record: the instant is systemTime (UTC; a
// receiver's record has no offset and is read as UTC); the value is in the
// record's unit; status low or high without a value is the sensor's limit
// (40 mg/dL, and Dexcom's 400 mg/dL: cgm.HighLimits) with the LO or HI
// flag; the trend
// arrow comes from trend. ok is false for a record that holds no glucose,
// with why it was skipped ("" for the expected ones: status unknown).
func (e WireEGV) Reading() (r cgm.Reading, ok bool, why string) {
	t, err := parseTime(e.SystemTime)
	if err != nil {
		return r, false, "systemTime: " + err.Error()
	}
	unit := cgm.MgDL
	switch strings.ToLower(e.Unit) {
	case "mg/dl", "":
	case "mmol/l":
		unit = cgm.MmolL
	default:
		return r, false, fmt.Sprintf("unit %q", upstream.Clean(e.Unit))
	}
	lo, _ := cgm.Limits(unit)
	hi := cgm.HighLimits(unit)[0] // Dexcom's 400 mg/dL
	status := ""
	if e.Status != nil {
		status = strings.ToLower(*e.Status)
	}
	r = cgm.Reading{Time: t, Unit: unit, Kind: cgm.Historic, Trend: trendOf(e.Trend)}
	switch {
	case e.Value != nil && !math.IsNaN(*e.Value) && !math.IsInf(*e.Value, 0) && *e.Value > 0:
		r.Value, r.Flags = cgm.Clamp(*e.Value, unit)
	case status == "low":
		r.Value, r.Flags = lo, cgm.FlagLow
	case status == "high":
		r.Value, r.Flags = hi, cgm.FlagHigh
	case status == "unknown" || status == "":
		return r, false, ""
	default:
		return r, false, fmt.Sprintf("status %q without a value", upstream.Clean(status))
	}
	if r.Flags != 0 {
		r.Trend = 0
	}
	if e.TransmitterID != nil && *e.TransmitterID != "" && len(*e.TransmitterID) <= 64 {
		r.Device = *e.TransmitterID
	}
	return r, true, ""
}

// trendOf maps Dexcom's trend to the five arrows: double and single
// arrows up (rising fast), forty-five up (rising), flat (stable),
// forty-five down (falling), single and double down (falling fast); none,
// unknown, notComputable and rateOutOfRange give no arrow.
func trendOf(t *string) cgm.Trend {
	if t == nil {
		return 0
	}
	switch strings.ToLower(*t) {
	case "doubleup", "singleup":
		return cgm.TrendRisingFast
	case "fortyfiveup":
		return cgm.TrendRising
	case "flat":
		return cgm.TrendStable
	case "fortyfivedown":
		return cgm.TrendFalling
	case "singledown", "doubledown":
		return cgm.TrendFallingFast
	}
	return 0
}

// parseTime reads a record time: RFC 3339 with an offset, or without one
// (a receiver's record), read as UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", TimeLayout} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", upstream.Clean(s))
}

// sortReadings sorts readings by instant (records come newest first).
func sortReadings(rs []cgm.Reading) {
	for i := 1; i < len(rs); i++ { // mostly reversed or sorted: insertion
		for j := i; j > 0 && rs[j].Time.Before(rs[j-1].Time); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// Range is the first and last record of a kind (dataRange).
type Range struct {
	Start, End time.Time
}

// DataRange is the user's data range (getDataRangeV3).
type DataRange struct {
	UserID string
	// EGVs is the range of the glucose records; zero when there are none.
	EGVs Range
}

type wireMoment struct {
	SystemTime  string `json:"systemTime"`
	DisplayTime string `json:"displayTime"`
}

type wireDataRange struct {
	RecordType    string `json:"recordType"`
	RecordVersion string `json:"recordVersion"`
	UserID        string `json:"userId"`
	EGVs          *struct {
		Start *wireMoment `json:"start"`
		End   *wireMoment `json:"end"`
	} `json:"egvs"`
}

// DataRange returns when the user's glucose records start and end.
func (c *Client) DataRange(ctx context.Context, accessToken string) (*DataRange, error) {
	r, err := c.send(ctx, opDataRange, http.MethodGet, c.base+"/v3/users/self/dataRange", nil, accessToken)
	if err != nil {
		return nil, err
	}
	if e := c.check(opDataRange, r); e != nil {
		return nil, e
	}
	var w wireDataRange
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, &Error{Kind: KindMalformedJSON, Op: opDataRange, HTTPStatus: r.status, Err: err}
	}
	out := &DataRange{UserID: w.UserID}
	if w.EGVs != nil && w.EGVs.Start != nil && w.EGVs.End != nil {
		s, err1 := parseTime(w.EGVs.Start.SystemTime)
		e, err2 := parseTime(w.EGVs.End.SystemTime)
		if err := errors.Join(err1, err2); err != nil {
			return nil, &Error{Kind: KindMalformedJSON, Op: opDataRange, HTTPStatus: r.status, Message: "egvs: " + err.Error()}
		}
		out.EGVs = Range{Start: s, End: e}
	}
	return out, nil
}

// Device is a receiver or app that contributed data (getDevicesV3).
type Device struct {
	TransmitterID         string
	TransmitterGeneration string
	DisplayDevice         string
	DisplayApp            string
	LastUpload            time.Time
}

// Model names the sensor system of a transmitter generation: "Dexcom G6",
// "Dexcom G7", …; "" when unknown.
func Model(generation string) string {
	switch strings.ToLower(generation) {
	case "g4":
		return "Dexcom G4"
	case "g5":
		return "Dexcom G5"
	case "g6":
		return "Dexcom G6"
	case "g6+":
		return "Dexcom G6+"
	case "g7":
		return "Dexcom G7"
	case "dexcompro":
		return "Dexcom G6 Pro"
	}
	return ""
}

type wireDevice struct {
	LastUploadDate        string  `json:"lastUploadDate"`
	TransmitterID         *string `json:"transmitterId"`
	TransmitterGeneration string  `json:"transmitterGeneration"`
	DisplayDevice         string  `json:"displayDevice"`
	DisplayApp            *string `json:"displayApp"`
}

// Devices returns the user's receivers and apps.
func (c *Client) Devices(ctx context.Context, accessToken string) ([]Device, error) {
	r, err := c.send(ctx, opDevices, http.MethodGet, c.base+"/v3/users/self/devices", nil, accessToken)
	if err != nil {
		return nil, err
	}
	if e := c.check(opDevices, r); e != nil {
		return nil, e
	}
	var w wireRecords[wireDevice]
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, &Error{Kind: KindMalformedJSON, Op: opDevices, HTTPStatus: r.status, Err: err}
	}
	var out []Device
	for _, d := range w.Records {
		dev := Device{TransmitterGeneration: d.TransmitterGeneration, DisplayDevice: upstream.Clean(d.DisplayDevice)}
		if d.TransmitterID != nil {
			dev.TransmitterID = upstream.Clean(*d.TransmitterID)
		}
		if d.DisplayApp != nil {
			dev.DisplayApp = upstream.Clean(*d.DisplayApp)
		}
		if t, err := parseTime(d.LastUploadDate); err == nil {
			dev.LastUpload = t
		}
		out = append(out, dev)
	}
	return out, nil
}

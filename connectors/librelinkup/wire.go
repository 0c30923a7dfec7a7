package librelinkup

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/internal/upstream"
)

// TimestampLayout is the layout of FactoryTimestamp and Timestamp: US
// month/day/year, 12-hour clock, no zone, no zero padding (as in the
// recorded responses of testdata, e.g. timoschlueter/nightscout-librelink-up
// tests/data/graph.json; robberwick/pylibrelinkup parses it so).
const TimestampLayout = "1/2/2006 3:04:05 PM"

// The wire format, as in the recorded responses of testdata (their
// upstreams are listed in testdata/SOURCES.md).
type (
	// glucoseItem holds the members of a GlucoseItem that fsecgm uses.
	// Timestamp (the phone's wall clock), Value and GlucoseUnits (the
	// patient's unit) and MeasurementColor are not read: the instant comes
	// from FactoryTimestamp and the value from ValueInMgPerDl.
	glucoseItem struct {
		FactoryTimestamp string   `json:"FactoryTimestamp"`
		Type             int      `json:"type"`
		ValueInMgPerDl   *float64 `json:"ValueInMgPerDl"`
		TrendArrow       *int     `json:"TrendArrow"`
		IsHigh           bool     `json:"isHigh"`
		IsLow            bool     `json:"isLow"`
		AlarmType        *int     `json:"alarmType"`
	}
	wireSensor struct {
		DeviceID string `json:"deviceId"`
		SN       string `json:"sn"`
		A        int64  `json:"a"`
		W        int    `json:"w"`
		PT       int    `json:"pt"`
		S        bool   `json:"s"`
	}
	wireDevice struct {
		DID  string `json:"did"`
		DTID int    `json:"dtid"`
		V    string `json:"v"`
	}
	wireConnection struct {
		ID                 string       `json:"id"`
		PatientID          string       `json:"patientId"`
		Country            string       `json:"country"`
		FirstName          string       `json:"firstName"`
		LastName           string       `json:"lastName"`
		TargetLow          float64      `json:"targetLow"`
		TargetHigh         float64      `json:"targetHigh"`
		UOM                int          `json:"uom"`
		Sensor             *wireSensor  `json:"sensor"`
		GlucoseMeasurement *glucoseItem `json:"glucoseMeasurement"`
		GlucoseItem        *glucoseItem `json:"glucoseItem"`
		PatientDevice      *wireDevice  `json:"patientDevice"`
		Created            int64        `json:"created"`
	}
	activeSensor struct {
		Sensor *wireSensor `json:"sensor"`
		Device *wireDevice `json:"device"`
	}
	graphData[P any] struct {
		Connection    *wireConnection `json:"connection"`
		ActiveSensors []activeSensor  `json:"activeSensors"`
		GraphData     []P             `json:"graphData"`
	}
	loginData struct {
		Redirect bool   `json:"redirect"`
		Region   string `json:"region"`
		User     *struct {
			ID      string `json:"id"`
			Country string `json:"country"`
		} `json:"user"`
		AuthTicket *struct {
			Token    string `json:"token"`
			Expires  int64  `json:"expires"`
			Duration int64  `json:"duration"`
		} `json:"authTicket"`
	}
	// typedEnvelope is a whole reply with its data decoded as T.
	typedEnvelope[T any] struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
		Data *T `json:"data"`
	}
)

// decodeData decodes a 2xx JSON reply into T. A reply whose status is not 0
// becomes its *Error; a syntax error becomes KindMalformedJSON. A type error
// (a field of the wrong JSON type) is returned apart, so that the caller can
// retry item by item and skip only the bad items.
func decodeData[T any](c *Client, op string, r *reply) (data *T, e *Error, typeErr error) {
	var env typedEnvelope[T]
	err := json.Unmarshal(r.body, &env)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		typeErr = err
	default:
		return nil, malformed(op, r.status, err), nil
	}
	if env.Status != 0 {
		var g envelope
		if json.Unmarshal(r.body, &g) != nil {
			g = envelope{Status: env.Status, Message: env.Message}
		}
		return nil, c.statusError(op, r, &g), nil
	}
	if typeErr != nil {
		return nil, nil, typeErr
	}
	if env.Data == nil {
		return nil, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: r.status, Message: "/data: missing"}, nil
	}
	return env.Data, nil, nil
}

// malformed describes a JSON error without quoting values from the body.
func malformed(op string, status int, err error) *Error {
	e := &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: status}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		e.Message = fmt.Sprintf("field %s at byte %d: want a JSON value for %s", te.Field, te.Offset, te.Type)
	case errors.As(err, &se):
		e.Message = fmt.Sprintf("invalid JSON at byte %d", se.Offset)
		if se.Error() == "unexpected end of JSON input" {
			e.Message = fmt.Sprintf("JSON cut short at byte %d", se.Offset)
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Message = "JSON cut short"
	default:
		e.Message = "invalid JSON"
	}
	return e
}

// decodeLogin decodes a login reply.
func (c *Client) decodeLogin(r *reply) (*loginData, *Error) {
	if e := c.check(opLogin, r); e != nil {
		return nil, e
	}
	d, e, typeErr := decodeData[loginData](c, opLogin, r)
	if typeErr != nil {
		return nil, malformed(opLogin, r.status, typeErr)
	}
	return d, e
}

// sessionOf builds the session of a successful login on region.
func (c *Client) sessionOf(d *loginData, region string, status int) (Session, *Error) {
	bad := func(msg string) (Session, *Error) {
		return Session{}, &Error{Kind: KindMalformedJSON, Op: opLogin, HTTPStatus: status, Message: msg}
	}
	switch {
	case d.AuthTicket == nil || d.AuthTicket.Token == "":
		// A successful status without a token: since 2024 LibreView asks
		// some accounts for a two-factor code (reference librelinkup.md §8).
		return Session{}, &Error{Kind: KindTwoFactor, Op: opLogin, HTTPStatus: status,
			Message: "login answered without a token (/data/authTicket missing or empty)"}
	case len(d.AuthTicket.Token) > 16<<10:
		return bad("/data/authTicket/token: implausible")
	case d.User == nil || d.User.ID == "":
		return bad("/data/user/id: missing (needed for the Account-Id header)")
	}
	now := c.now()
	exp := time.Unix(d.AuthTicket.Expires, 0).UTC()
	if d.AuthTicket.Expires == 0 && d.AuthTicket.Duration > 0 {
		exp = now.Add(time.Duration(d.AuthTicket.Duration) * time.Millisecond).UTC()
	}
	if !exp.After(now) {
		return bad(fmt.Sprintf("/data/authTicket/expires: %s is not in the future", exp.Format(time.RFC3339)))
	}
	return Session{
		Token:     d.AuthTicket.Token,
		Expires:   exp,
		AccountID: AccountIDOf(d.User.ID),
		Region:    region,
		Country:   upstream.Clean(d.User.Country),
	}, nil
}

// decodeConnections decodes and translates a /llu/connections reply.
func (c *Client) decodeConnections(r *reply) (*ConnectionList, *Error) {
	out := &ConnectionList{}
	now := c.now()
	d, e, typeErr := decodeData[[]wireConnection](c, opConnections, r)
	if e != nil {
		return nil, e
	}
	if typeErr == nil {
		out.Connections = make([]Connection, 0, len(*d))
		for i := range *d {
			if conn, ok := translateConnection(&(*d)[i], fmt.Sprintf("/data/%d", i), now, &out.Problems); ok {
				out.Connections = append(out.Connections, conn)
			}
		}
		return out, nil
	}
	// Slow path: decode item by item, skipping the ones of the wrong shape.
	raw, e, typeErr := decodeData[[]json.RawMessage](c, opConnections, r)
	if e != nil {
		return nil, e
	}
	if typeErr != nil {
		return nil, malformed(opConnections, r.status, typeErr)
	}
	for i, item := range *raw {
		ptr := fmt.Sprintf("/data/%d", i)
		var wc wireConnection
		if err := json.Unmarshal(item, &wc); err != nil {
			out.Problems.add(true, ptr, "", "not a connection: "+malformed("", 0, err).Message)
			continue
		}
		if conn, ok := translateConnection(&wc, ptr, now, &out.Problems); ok {
			out.Connections = append(out.Connections, conn)
		}
	}
	return out, nil
}

// decodeGraph decodes and translates a graph reply.
func (c *Client) decodeGraph(r *reply) (*Graph, *Error) {
	now := c.now()
	d, e, typeErr := decodeData[graphData[glucoseItem]](c, opGraph, r)
	if e != nil {
		return nil, e
	}
	var probs Problems
	var items []glucoseItem
	var conn *wireConnection
	var active []activeSensor
	if typeErr == nil {
		items, conn, active = d.GraphData, d.Connection, d.ActiveSensors
	} else {
		// Slow path: one point of the wrong shape must not lose the others.
		rd, e, typeErr := decodeData[graphData[json.RawMessage]](c, opGraph, r)
		if e != nil {
			return nil, e
		}
		if typeErr != nil {
			return nil, malformed(opGraph, r.status, typeErr)
		}
		conn, active = rd.Connection, rd.ActiveSensors
		items = make([]glucoseItem, len(rd.GraphData))
		for i, raw := range rd.GraphData {
			if err := json.Unmarshal(raw, &items[i]); err != nil {
				probs.add(true, fmt.Sprintf("/data/graphData/%d", i), "", "not a glucose item: "+malformed("", 0, err).Message)
				items[i] = glucoseItem{Type: -1}
			}
		}
	}
	g := &Graph{}
	if conn != nil {
		g.Connection, _ = translateConnection(conn, "/data/connection", now, &probs)
	}
	sensors := make([]Sensor, 0, len(active)+1)
	for i, as := range active {
		if as.Sensor != nil {
			sensors = append(sensors, translateSensor(as.Sensor, fmt.Sprintf("/data/activeSensors/%d/sensor", i), &probs))
		}
	}
	if g.Connection.Sensor != nil {
		sensors = append(sensors, *g.Connection.Sensor)
	}
	slices.SortStableFunc(sensors, func(a, b Sensor) int { return a.Activated.Compare(b.Activated) })
	sensors = slices.CompactFunc(sensors, func(a, b Sensor) bool { return a.Serial == b.Serial && a.Activated.Equal(b.Activated) })
	g.Sensors = sensors

	readings := make([]cgm.Reading, 0, len(items)+1)
	for i := range items {
		if items[i].Type == -1 {
			continue // already reported
		}
		ptr := "/data/graphData/" + strconv.Itoa(i)
		rd, ok := translateItem(&items[i], cgm.Historic, ptr, now, &probs)
		if !ok {
			continue
		}
		rd.Trend = 0 // graph points carry no arrow
		rd.Device = serialAt(sensors, rd.Time)
		readings = append(readings, rd)
	}
	if cur := g.Connection.Current; cur != nil {
		readings = append(readings, *cur)
	}
	g.Readings = cgm.NewSeries(readings)
	g.Problems = probs
	return g, nil
}

// decodeLogbook decodes and translates a logbook reply.
func (c *Client) decodeLogbook(r *reply) (*Logbook, *Error) {
	now := c.now()
	lb := &Logbook{}
	d, e, typeErr := decodeData[[]glucoseItem](c, opLogbook, r)
	if e != nil {
		return nil, e
	}
	var items []glucoseItem
	if typeErr == nil {
		items = *d
	} else {
		raw, e, typeErr := decodeData[[]json.RawMessage](c, opLogbook, r)
		if e != nil {
			return nil, e
		}
		if typeErr != nil {
			return nil, malformed(opLogbook, r.status, typeErr)
		}
		items = make([]glucoseItem, len(*raw))
		for i, it := range *raw {
			if err := json.Unmarshal(it, &items[i]); err != nil {
				lb.Problems.add(true, fmt.Sprintf("/data/%d", i), "", "not a glucose item: "+malformed("", 0, err).Message)
				items[i] = glucoseItem{Type: -1}
			}
		}
	}
	readings := make([]cgm.Reading, 0, len(items))
	for i := range items {
		it := &items[i]
		ptr := "/data/" + strconv.Itoa(i)
		var kind cgm.Kind
		switch it.Type {
		case -1:
			continue
		case 0:
			kind = cgm.Historic
		case 1:
			kind = cgm.Scan
		case 2, 3:
			t, err := parseTimestamp(it.FactoryTimestamp)
			if err != nil {
				lb.Problems.add(true, ptr+"/FactoryTimestamp", it.FactoryTimestamp, err.Error())
				continue
			}
			at := AlarmLow
			if it.AlarmType != nil {
				at = AlarmType(*it.AlarmType)
			}
			if at > AlarmHigh {
				lb.Problems.add(false, ptr+"/alarmType", strconv.Itoa(int(at)), "unknown alarm type")
			}
			lb.Alarms = append(lb.Alarms, Alarm{Time: t, Type: at, HasReading: it.Type == 3})
			if it.Type == 2 {
				continue
			}
			kind = cgm.Current
		default:
			lb.Problems.add(true, ptr+"/type", strconv.Itoa(it.Type), "unknown logbook entry type")
			continue
		}
		if rd, ok := translateItem(it, kind, ptr, now, &lb.Problems); ok {
			readings = append(readings, rd)
		}
	}
	slices.SortStableFunc(lb.Alarms, func(a, b Alarm) int { return a.Time.Compare(b.Time) })
	lb.Readings = cgm.NewSeries(readings)
	return lb, nil
}

// translateConnection turns a wire connection into a Connection; it fails
// (and records why) when the connection has no patient id.
func translateConnection(w *wireConnection, ptr string, now time.Time, probs *Problems) (Connection, bool) {
	if w.PatientID == "" {
		probs.add(true, ptr+"/patientId", "", "missing: the connection cannot be used")
		return Connection{}, false
	}
	c := Connection{
		ID:         w.ID,
		PatientID:  w.PatientID,
		FirstName:  w.FirstName,
		LastName:   w.LastName,
		Country:    w.Country,
		Unit:       cgm.MgDL,
		TargetLow:  w.TargetLow,
		TargetHigh: w.TargetHigh,
	}
	if w.UOM == 0 {
		c.Unit = cgm.MmolL
	}
	if w.Created > 0 {
		c.Created = time.Unix(w.Created, 0).UTC()
	}
	if w.PatientDevice != nil {
		c.DeviceTypeID = w.PatientDevice.DTID
		c.AppVersion = w.PatientDevice.V
	}
	if w.Sensor != nil {
		s := translateSensor(w.Sensor, ptr+"/sensor", probs)
		c.Sensor = &s
	}
	item, name := w.GlucoseMeasurement, "/glucoseMeasurement"
	if item == nil {
		item, name = w.GlucoseItem, "/glucoseItem"
	}
	if item != nil {
		if rd, ok := translateItem(item, cgm.Current, ptr+name, now, probs); ok {
			if c.Sensor != nil {
				rd.Device = c.Sensor.Serial
			}
			c.Current = &rd
		}
	}
	return c, true
}

// translateSensor turns a wire sensor into a Sensor. A serial that is not
// 1–64 printable ASCII characters is dropped (and reported), so that it
// cannot make every reading invalid.
func translateSensor(w *wireSensor, ptr string, probs *Problems) Sensor {
	sn := w.SN
	if !printableSerial(sn) {
		if sn != "" {
			probs.add(false, ptr+"/sn", "", "not a serial number (1–64 printable characters): dropped")
		}
		sn = ""
	}
	s := Sensor{
		Serial:      sn,
		DeviceID:    w.DeviceID,
		WarmUp:      time.Duration(w.W) * time.Minute,
		ProductType: w.PT,
		Streaming:   w.S,
	}
	if w.A > 0 {
		s.Activated = time.Unix(w.A, 0).UTC()
	}
	return s
}

func printableSerial(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// serialAt returns the serial of the sensor with the latest activation not
// after t (sensors sorted by activation), or of the only or newest sensor
// when the activations do not tell.
func serialAt(sensors []Sensor, t time.Time) string {
	if len(sensors) == 0 {
		return ""
	}
	i, found := slices.BinarySearchFunc(sensors, t, func(s Sensor, t time.Time) int { return cmp.Compare(s.Activated.UnixNano(), t.UnixNano()) })
	if found {
		return sensors[i].Serial
	}
	if i == 0 {
		return sensors[len(sensors)-1].Serial
	}
	return sensors[i-1].Serial
}

// parseTimestamp reads a FactoryTimestamp as UTC (as robberwick/pylibrelinkup
// and pachi81/GlucoDataHandler do: Timestamp is the phone's wall clock and
// must not be used as the instant; timoschlueter/nightscout-librelink-up
// fixed its time zone error so, commit c5175a4).
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.ParseInLocation(TimestampLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, errors.New("not a timestamp of the form M/D/YYYY h:mm:ss AM")
	}
	return t, nil
}

// translateItem turns a glucose item into a reading of the given kind, or
// records why it cannot.
func translateItem(it *glucoseItem, kind cgm.Kind, ptr string, now time.Time, probs *Problems) (cgm.Reading, bool) {
	t, err := parseTimestamp(it.FactoryTimestamp)
	if err != nil {
		probs.add(true, ptr+"/FactoryTimestamp", it.FactoryTimestamp, err.Error())
		return cgm.Reading{}, false
	}
	if it.ValueInMgPerDl == nil {
		probs.add(true, ptr+"/ValueInMgPerDl", "", "missing")
		return cgm.Reading{}, false
	}
	rd := cgm.Reading{Time: t, Unit: cgm.MgDL, Kind: kind}
	switch {
	case it.IsLow:
		rd.Value, rd.Flags = cgm.LowLimitMgDL, cgm.FlagLow
	case it.IsHigh:
		rd.Value, rd.Flags = cgm.HighLimitMgDL, cgm.FlagHigh
	default:
		v, f, err := cgm.Normalize(*it.ValueInMgPerDl, cgm.MgDL)
		if err != nil {
			probs.add(true, ptr+"/ValueInMgPerDl", "", "not a plausible glucose value in mg/dL")
			return cgm.Reading{}, false
		}
		rd.Value, rd.Flags = v, f
	}
	if it.TrendArrow != nil && rd.Flags == 0 {
		if a := *it.TrendArrow; a >= 0 && a <= int(cgm.TrendRisingFast) {
			rd.Trend = cgm.Trend(a)
		} else {
			probs.add(false, ptr+"/TrendArrow", strconv.Itoa(a), "not an arrow 0–5: kept as unknown")
		}
	}
	if err := rd.Validate(now); err != nil {
		// The reason only: the FieldError's value could be a glucose value.
		var fe *cgm.FieldError
		switch {
		case errors.As(err, &fe) && fe.Field == "time":
			probs.add(true, ptr+"/FactoryTimestamp", it.FactoryTimestamp, fe.Reason)
		case errors.As(err, &fe):
			probs.add(true, ptr, "", fe.Field+": "+fe.Reason)
		default:
			probs.add(true, ptr, "", "not a valid reading")
		}
		return cgm.Reading{}, false
	}
	return rd, true
}

package cgm

import (
	"sync"
	"time"
)

// zones holds the time zones loaded so far, by name.
var zones sync.Map // string → *time.Location

// Zone returns the time zone named name (an IANA name such as
// "Europe/Rome"; "" and "UTC" are UTC), as time.LoadLocation does, but
// loads each zone once per process: time.LoadLocation reads and parses the
// zone database on every call, and a patient's zone is needed on every
// read of their data. Only zones that load are kept (there are a few
// hundred names), so a wrong name costs a lookup each time and is reported
// each time.
func Zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

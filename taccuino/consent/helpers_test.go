package consent

import (
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"
)

// makeCF builds a valid codice fiscale for names (6 letters), a birth date
// and sex, born in Firenze (D612).
func makeCF(names string, y int, m time.Month, d int, female bool) string {
	if female {
		d += 40
	}
	return codicefiscale.Complete(fmt.Sprintf("%s%02d%c%02dD612", names, y%100, "ABCDEHLMPRST"[m-1], d))
}

// mustLoc loads a time zone or fails the test.
func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

// People of the tests. Their fiscal codes are valid.
var (
	cfPatient   = makeCF("RSSMRA", 1980, time.March, 10, false) // adult patient
	cfChild     = makeCF("RSSLCU", 2015, time.June, 2, true)    // a minor
	cfParent    = makeCF("BNCGPP", 1982, time.April, 3, false)
	cfTutor     = makeCF("VRDLGU", 1970, time.July, 21, false)
	cfDelegate  = makeCF("NREANN", 1990, time.January, 5, true)
	cfStranger  = makeCF("GLLPLA", 1975, time.October, 30, false)
	cfMMG       = makeCF("FRRMRC", 1965, time.February, 14, false)
	cfPLS       = makeCF("CLMSRA", 1972, time.December, 1, true)
	cfDiabetolo = makeCF("MRNFNC", 1968, time.August, 8, false)
	cfTeen      = makeCF("BNCSFO", 2010, time.May, 20, true) // 16 in 2026
)

func citizen(cf string) Actor {
	return Actor{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Citizen", RequestID: "req-c"}
}

func practitioner(cf string, role auth.PractitionerRole, org string) Actor {
	return Actor{Role: auth.RolePractitioner, FiscalCode: cf, PractitionerRole: role, Organization: org,
		Name: "Dr. Test", RequestID: "req-p"}
}

func service(client string, scopes ...string) Actor {
	return Actor{Role: auth.RoleService, ClientID: client, Scopes: scopes, Name: client, RequestID: "req-s"}
}

func analyst(cf, _ string) Actor {
	return Actor{Role: auth.RoleAnalyst, FiscalCode: cf, Name: "Analyst", RequestID: "req-a"}
}

// head is the head of a diabetology centre: a diabetologist of it (the
// organization role is not part of the Actor: it gives no power over a
// record).
func head(cf, org string) Actor {
	return practitioner(cf, auth.PractitionerDiabetologist, org)
}

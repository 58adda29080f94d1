package web

import (
	"net/http"
	"regexp"
	"sync"
	"time"
)

// The viewer's time zone. Pages show moments (when a record was added, when a result was
// taken) in the zone of the person reading them, in words. The server learns it from the
// browser: the page script (static/app.js; inline scripts are forbidden by the pages' CSP)
// puts the browser's IANA zone name in the zoneCookie cookie on every page, the sign-in page
// included, so it is there from the first page after sign-in. Without the script, or with a
// name the server does not know, pages use Config.TimeZone (Europe/Berlin by default).

// zoneCookie carries the browser's IANA time zone name, such as "Europe/Berlin". It is not
// a secret and grants nothing; a wrong value only changes how times are written.
const zoneCookie = "__Host-careledger-tz"

// DefaultTimeZone is the zone pages use when the browser does not say its own.
const DefaultTimeZone = "Europe/Berlin"

// zoneName is the form of an IANA zone name; anything else is not even looked up.
var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]{0,31}(/[A-Za-z0-9_+-]{1,32}){0,2}$`)

// maxZones bounds the zone names remembered, known or not, and so the page sets rendered for
// them: there are about 600 IANA names, and a client could send each. Readers are in far
// fewer zones than this.
const maxZones = 64

// zones remembers the time zones browsers asked for, so each is loaded from the zone
// database once.
type zones struct {
	def *time.Location
	mu  sync.Mutex
	by  map[string]*time.Location // nil value: not a zone
}

func newZones(def *time.Location) *zones {
	return &zones{def: def, by: map[string]*time.Location{}}
}

// of returns the request's time zone: the browser's, if it sent a zone that exists, else
// the default.
func (z *zones) of(r *http.Request) *time.Location {
	c, err := r.Cookie(zoneCookie)
	if err != nil || !zoneName.MatchString(c.Value) {
		return z.def
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if loc, ok := z.by[c.Value]; ok {
		if loc == nil {
			return z.def
		}
		return loc
	}
	if len(z.by) >= maxZones {
		// Every page set is per zone (pageSets): a zone beyond the bound gets the default
		// rather than a new set, so no client can grow the server's memory.
		return z.def
	}
	loc, err := time.LoadLocation(c.Value)
	if err != nil || c.Value == "Local" {
		loc = nil
	}
	z.by[c.Value] = loc
	if loc == nil {
		return z.def
	}
	return loc
}

// defaultZone loads DefaultTimeZone; a machine without a zone database (and without
// time/tzdata in the binary) falls back to UTC, which the pages then name.
func defaultZone() *time.Location {
	if loc, err := time.LoadLocation(DefaultTimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// moment writes a moment in words in loc: "12 March 2026, 09:30".
func moment(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2 January 2006, 15:04")
}

// calendarDay writes the day of a moment in loc: "12 March 2026".
func calendarDay(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2 January 2006")
}

// zoneWords names a zone for the page footer: "Europe/Berlin".
func zoneWords(loc *time.Location) string {
	if loc == time.UTC {
		return "UTC"
	}
	return loc.String()
}

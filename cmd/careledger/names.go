package main

import (
	"context"

	"github.com/careledger/careledger/app-api/client"
)

// names says who the pseudonyms and MSP IDs in a table are: clinicians from their
// organisation's directory, organisations by their human names. A lookup that fails leaves the
// pseudonym or MSP ID, so a table never fails for want of a name.
type names struct {
	people map[string]*client.DirectoryEntry
	orgs   map[string]string
}

// lookupNames asks the API once per distinct pseudonym; pseudonyms that are not clinicians in
// any directory (patients, for one) stay pseudonyms.
func lookupNames(ctx context.Context, c *client.Client, ids ...string) names {
	n := names{people: map[string]*client.DirectoryEntry{}, orgs: map[string]string{}}
	if orgs, err := c.Organizations(ctx); err == nil {
		for _, o := range orgs {
			n.orgs[o.MSP] = o.Name
		}
	}
	for _, id := range ids {
		if _, done := n.people[id]; done || id == "" {
			continue
		}
		e, _ := c.Directory(ctx, id) // not found, refused or unavailable: nil, the pseudonym shows
		n.people[id] = e
	}
	return n
}

// person is "Dr Anna Weber (internist, Cardiology, Klinikum Musterstadt) b9f6bb5d…", or the
// short pseudonym alone.
func (n names) person(id string) string {
	e := n.people[id]
	if e == nil {
		return short(id)
	}
	what := e.Profession
	if e.Department != "" {
		what += ", " + e.Department
	}
	return e.Name + " (" + what + ", " + e.Organization + ") " + short(id)
}

// org is an organisation's human name, or its MSP ID.
func (n names) org(msp string) string {
	if name, ok := n.orgs[msp]; ok && name != "" {
		return name
	}
	return msp
}

package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// A delegate is someone (a relative, a carer) the patient lets give and take back access for
// them. Naming and removing one are consent decisions, signed with the patient's own key.

// delegateRow is a delegate in words.
type delegateRow struct {
	model.Delegate
	Who string
}

func (s *server) patientDelegates(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.delegatesPage(w, r, v, http.StatusOK, "")
}

func (s *server) delegatesPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	ctx := r.Context()
	ds, more, err := collect(ctx, func(p ledger.Page) ([]model.Delegate, string, error) {
		dp, err := v.client.ListDelegates(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return dp.Delegates, dp.Bookmark, nil
	})
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.Delegate)
	}
	n := s.namesOf(ctx, v, ids)
	rows := make([]delegateRow, 0, len(ds))
	for _, d := range ds {
		if d.ValidUntil != nil && !d.ValidUntil.After(s.now()) {
			continue // ended: it no longer lets anyone act for the patient
		}
		row := delegateRow{Delegate: d, Who: "a person not in any organisation's directory"}
		if e, ok := n[d.Delegate]; ok {
			row.Who = s.person(e)
		}
		rows = append(rows, row)
	}
	data := map[string]any{"Delegates": rows, "More": more}
	s.renderWith(w, r, status, "patient_delegates", v, s.csrf.token(v.binding), "Who may act for me", data, problem)
}

// parseDelegateForm reads the "add a delegate" form. now fixes what "days from today" means.
func parseDelegateForm(f url.Values, now time.Time) (model.DelegateRequest, error) {
	var d model.DelegateRequest
	d.Delegate = strings.ToLower(strings.TrimSpace(f.Get("delegate")))
	if !model.ValidPseudonym(d.Delegate) {
		return d, badForm("their CareLedger ID is 32 characters, digits 0-9 and letters a-f.")
	}
	switch days := f.Get("days"); days {
	case "":
	case "30", "90", "365":
		n := map[string]int{"30": 30, "90": 90, "365": 365}[days]
		until := now.AddDate(0, 0, n)
		d.ValidUntil = &until
	default:
		return d, badForm("please choose for how long.")
	}
	return d, nil
}

func (s *server) delegatesProblem(w http.ResponseWriter, r *http.Request, v *viewer) func(int, string) {
	return func(status int, problem string) { s.delegatesPage(w, r, v, status, problem) }
}

func (s *server) patientAddDelegate(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.consentChange(w, r, v, s.delegatesProblem(w, r, v), "/patient/delegates?done=delegate", func() error {
		req, err := parseDelegateForm(r.PostForm, s.now())
		if err == nil && req.Delegate == v.LedgerID {
			err = badForm("you cannot name yourself.")
		}
		if err == nil {
			_, err = v.client.AddDelegate(r.Context(), req)
		}
		return err
	})
}

func (s *server) patientRemoveDelegate(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.consentChange(w, r, v, s.delegatesProblem(w, r, v), "/patient/delegates?done=undelegate", func() error {
		id := r.PathValue("delegateID")
		if !model.ValidPseudonym(id) {
			return badForm("that person does not act for you.")
		}
		return v.client.RemoveDelegate(r.Context(), id)
	})
}

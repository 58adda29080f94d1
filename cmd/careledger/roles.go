package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// roleCmd builds a role's command group; each subcommand gets an open session.
func roleCmd(g *globals, name, short string, subs ...func(*globals, *clientFlags) *cobra.Command) *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{Use: name, Short: short}
	f.register(cmd, name)
	for _, sub := range subs {
		cmd.AddCommand(sub(g, f))
	}
	return cmd
}

func run(g *globals, f *clientFlags, fn func(cmd *cobra.Command, s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := f.open(cmd, g)
		if err != nil {
			return err
		}
		defer s.c.Close()
		return fn(cmd, s, args)
	}
}

func newPatientCmd(g *globals) *cobra.Command {
	return roleCmd(g, "patient", "Act as a patient: records, grants, audit trail, research consent, erasure",
		whoamiCmd, uploadCmd, recordsCmd, ownHistoryCmd, readCmd, grantCmd, revokeCmd, grantsCmd, auditCmd, researchCmd, eraseCmd, delegateCmd)
}

func newClinicianCmd(g *globals) *cobra.Command {
	return roleCmd(g, "clinician", "Act as a clinician: granted patients, histories, new versions, emergency access",
		whoamiCmd, patientsCmd, patientRecordsCmd, historyCmd, readCmd, appendCmd, emergencyCmd)
}

func newManufacturerCmd(g *globals) *cobra.Command {
	return roleCmd(g, "manufacturer", "Act as a manufacturer: published cohorts, downloads, aggregate queries",
		whoamiCmd, cohortsCmd, downloadCmd, queryCmd)
}

func newAnonymizerCmd(g *globals) *cobra.Command {
	return roleCmd(g, "anonymizer", "Act as the anonymiser: build and publish cohorts from consenting patients",
		whoamiCmd, cohortsCmd, publishCmd)
}

func publishCmd(g *globals, f *clientFlags) *cobra.Command {
	var req client.CohortRequest
	cmd := &cobra.Command{Use: "publish", Short: "Build a cohort from consenting patients, check its privacy model and publish it", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			co, err := s.c.PublishCohort(cmd.Context(), req)
			if err != nil {
				return err
			}
			p := co.Publication
			return s.print(co, []string{"COHORT", "ROWS", "SUPPRESSED", "MODELS", "DATASET SHA-256"}, [][]string{{p.ID, strconv.Itoa(p.RowCount), strconv.Itoa(p.SuppressedRows), strings.Join(p.Models, ","), p.DatasetHash}})
		})}
	cmd.Flags().StringVar(&req.ID, "id", "", "cohort ID (default: a random UUID)")
	cmd.Flags().StringVar(&req.Purpose, "purpose", "", "research purpose the patients consented to")
	cmd.Flags().IntVar(&req.K, "k", 5, "k of k-anonymity")
	cmd.Flags().IntVar(&req.L, "l", 0, "distinct l-diversity of the diagnosis (0: none)")
	cmd.Flags().Float64Var(&req.SuppressionLimit, "suppression", 0.05, "share of rows that may be suppressed")
	cmd.MarkFlagRequired("purpose")
	return cmd
}

func whoamiCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "whoami", Short: "Show your pseudonym, organisation and role", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(me, []string{"PSEUDONYM", "MSP", "ROLE"}, [][]string{{me.ID, me.MSP, string(me.Role)}})
		})}
}

func uploadCmd(g *globals, f *clientFlags) *cobra.Command {
	var file, mediaType, category, id string
	cmd := &cobra.Command{Use: "upload", Short: "Upload a record (FHIR JSON or a document) of your own", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			data, err := readInput(file)
			if err != nil {
				return err
			}
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			rec, err := s.c.Upload(cmd.Context(), client.Upload{Owner: me.ID, Category: category, ID: id, MediaType: mediaType, Data: data})
			if err != nil {
				return err
			}
			return s.print(rec, []string{"RECORD", "CATEGORY", "VERSION", "HASH"}, [][]string{{rec.ID, rec.Category, strconv.Itoa(rec.Versions), rec.LatestHash}})
		})}
	cmd.Flags().StringVar(&file, "file", "", "the content (- for stdin)")
	cmd.Flags().StringVar(&mediaType, "type", fhir.MediaType, "media type of the content")
	cmd.Flags().StringVar(&category, "category", "", "record category, one of "+categoryList+" (derived from FHIR resources; required for documents)")
	cmd.Flags().StringVar(&id, "id", "", "record ID (default: a random UUID)")
	cmd.MarkFlagRequired("file")
	return cmd
}

func recordRows(recs []model.Record) [][]string {
	var rows [][]string
	for _, r := range recs {
		rows = append(rows, []string{r.ID, r.Category, strconv.Itoa(r.Versions), short(r.CreatedBy.ID) + " (" + string(r.CreatedBy.Role) + ")", day(r.UpdatedAt)})
	}
	return rows
}

// categoryList is the ledger's category vocabulary for flag help.
var categoryList = strings.Join(model.Categories, ", ")

var recordHeader = []string{"RECORD", "CATEGORY", "VERSIONS", "ADDED BY", "UPDATED"}

func recordsCmd(g *globals, f *clientFlags) *cobra.Command {
	var category string
	cmd := &cobra.Command{Use: "records", Short: "List your records", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			page, err := s.c.PatientRecords(cmd.Context(), me.ID, category, client.Page{Size: 200})
			if err != nil {
				return err
			}
			return s.print(page, recordHeader, recordRows(page.Records))
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	return cmd
}

func patientRecordsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "records <patient>", Short: "List a patient's records you may read", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			page, err := s.c.PatientRecords(cmd.Context(), args[0], "", client.Page{Size: 200})
			if err != nil {
				return err
			}
			return s.print(page, recordHeader, recordRows(page.Records))
		})}
}

func readCmd(g *globals, f *clientFlags) *cobra.Command {
	var version int
	var purpose, out string
	cmd := &cobra.Command{Use: "read <record>", Short: "Read a record's content (audited)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			c, err := s.c.Content(cmd.Context(), args[0], version, purpose)
			if err != nil {
				return err
			}
			if out != "" || !s.json {
				return writeOutput(cmd, out, c.Data)
			}
			return s.print(c, nil, nil)
		})}
	cmd.Flags().IntVar(&version, "version", 0, "version to read (default: the latest)")
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose of use (HL7 code, e.g. TREAT)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the content to this file")
	return cmd
}

func grantCmd(g *globals, f *clientFlags) *cobra.Command {
	var to, org, purpose, forPatient string
	var categories, records []string
	var write bool
	var days int
	cmd := &cobra.Command{Use: "grant", Short: "Let a clinician (or a whole organisation's clinicians) read your records", Args: cobra.NoArgs,
		Long: "The grant is signed here with your own key; the server never sees it.",
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			req := model.GrantRequest{ID: "g-" + uuid.NewString(), Patient: forPatient, Grantee: model.Grantee{ID: to, MSP: org}, Actions: []string{model.ActionRead},
				Categories: categories, RecordIDs: records, Purpose: purpose}
			if write {
				req.Actions = append(req.Actions, model.ActionAppend)
			}
			if days > 0 {
				u := time.Now().Add(time.Duration(days) * 24 * time.Hour)
				req.ValidUntil = &u
			}
			gr, rc, err := s.c.Grant(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, append(grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.Grantee.ID)), []string{"", "", "", "", "", "tx " + short(rc.TransactionID)}))
		})}
	cmd.Flags().StringVar(&to, "to", "", "the grantee's pseudonym")
	cmd.Flags().StringVar(&org, "org", "", "grant to every clinician of this organisation (MSP ID) instead")
	cmd.Flags().StringSliceVar(&categories, "category", nil, "categories granted, any of "+categoryList+"; demographics shares your name, birth date, sex and address")
	cmd.Flags().StringSliceVar(&records, "record", nil, "records granted, instead of categories")
	cmd.Flags().BoolVar(&write, "append", false, "also let them add versions and records")
	cmd.Flags().StringVar(&purpose, "purpose", "TREAT", "purpose of use: TREAT, CAREMGT, PATRQT, HRESCH, CLINTRCH, PUBHLTH")
	cmd.Flags().IntVar(&days, "days", 0, "days the grant lasts (default: until revoked)")
	cmd.Flags().StringVar(&forPatient, "for", "", "grant on behalf of this patient, who named you their delegate")
	return cmd
}

func delegateCmd(g *globals, f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "delegate", Short: "Name, list or remove people who may manage your grants and research consent"}
	var days int
	add := &cobra.Command{Use: "add <pseudonym>", Short: "Name a delegate (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			req := model.DelegateRequest{Delegate: args[0]}
			if days > 0 {
				u := time.Now().Add(time.Duration(days) * 24 * time.Hour)
				req.ValidUntil = &u
			}
			d, _, err := s.c.AddDelegate(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(d, []string{"DELEGATE", "UNTIL"}, [][]string{{d.Delegate, until(d.ValidUntil)}})
		})}
	add.Flags().IntVar(&days, "days", 0, "days the delegation lasts (default: until removed)")
	remove := &cobra.Command{Use: "remove <pseudonym>", Short: "Withdraw a delegation (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			if _, err := s.c.RemoveDelegate(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "removed delegate %s\n", args[0])
			return nil
		})}
	list := &cobra.Command{Use: "list", Short: "Your delegates", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Delegates(cmd.Context(), client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, d := range page.Delegates {
				rows = append(rows, []string{d.Delegate, until(d.ValidUntil), day(d.CreatedAt)})
			}
			return s.print(page, []string{"DELEGATE", "UNTIL", "SINCE"}, rows)
		})}
	cmd.AddCommand(add, remove, list)
	return cmd
}

var grantHeader = []string{"GRANT", "GRANTEE", "SCOPE", "ACTIONS", "PURPOSE", "UNTIL", "STATUS"}

func grantRows(gs []model.Grant, n names) [][]string {
	var rows [][]string
	for _, gr := range gs {
		grantee := n.person(gr.Grantee.ID)
		if gr.Emergency {
			grantee = n.person(gr.GrantedBy.ID)
		}
		if gr.Grantee.ID == "" && !gr.Emergency {
			grantee = "all clinicians of " + n.org(gr.Grantee.MSP)
		}
		scope := strings.Join(gr.Categories, ",")
		if len(gr.RecordIDs) > 0 {
			scope = "records " + strings.Join(gr.RecordIDs, ",")
		}
		status := gr.Status
		if gr.Emergency {
			status += " (EMERGENCY: " + gr.Reason + ")"
		}
		rows = append(rows, []string{gr.ID, grantee, scope, strings.Join(gr.Actions, ","), gr.Purpose, until(gr.ValidUntil), status})
	}
	return rows
}

func revokeCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "revoke <grant>", Short: "Revoke a grant (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			gr, _, err := s.c.RevokeGrant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.Grantee.ID, gr.GrantedBy.ID)))
		})}
}

func grantsCmd(g *globals, f *clientFlags) *cobra.Command {
	var active bool
	cmd := &cobra.Command{Use: "grants", Short: "Who may see what: your grants and emergency accesses", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Grants(cmd.Context(), "", active, client.Page{Size: 200})
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(page.Grants))
			for _, gr := range page.Grants {
				ids = append(ids, gr.Grantee.ID, gr.GrantedBy.ID)
			}
			return s.print(page, grantHeader, grantRows(page.Grants, lookupNames(cmd.Context(), s.c, ids...)))
		})}
	cmd.Flags().BoolVar(&active, "active", false, "only grants in force now")
	return cmd
}

func auditCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "audit", Short: "Every access to your records, and every refused attempt: who, what, when, under which grant", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.AccessLog(cmd.Context(), "", client.Page{Size: 200})
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(page.Entries))
			for _, e := range page.Entries {
				ids = append(ids, e.Accessor.ID)
			}
			n := lookupNames(cmd.Context(), s.c, ids...)
			var rows [][]string
			for _, e := range page.Entries {
				basis := e.Basis
				switch e.Basis {
				case model.BasisEmergency:
					basis = "EMERGENCY"
				case model.BasisRefused:
					basis = "REFUSED: " + e.Reason
				}
				// Whether the accessor's own key signed for the access, or only their
				// organisation's gateway vouches for it.
				rows = append(rows, []string{day(e.AccessedAt), n.person(e.Accessor.ID) + " (" + string(e.Accessor.Role) + ", " + n.org(e.Accessor.MSP) + ")", e.RecordID, strconv.Itoa(e.Version), e.Action, basis, e.GrantID, e.Assurance})
			}
			return s.print(page, []string{"WHEN", "WHO", "RECORD", "VERSION", "ACTION", "BASIS", "GRANT", "SIGNED"}, rows)
		})}
}

func researchCmd(g *globals, f *clientFlags) *cobra.Command {
	var optIn, optOut bool
	var purposes []string
	cmd := &cobra.Command{Use: "research", Short: "Show, give or withdraw consent to research use of your records", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			if optIn == optOut {
				rc, err := s.c.ResearchConsent(cmd.Context(), "")
				if err != nil {
					return err
				}
				return s.print(rc, []string{"OPTED IN", "PURPOSES", "UNTIL"}, [][]string{{strconv.FormatBool(rc.OptIn), strings.Join(rc.Purposes, ","), until(rc.Until)}})
			}
			req := model.ResearchConsentRequest{OptIn: optIn}
			if optIn {
				req.Purposes = purposes
			}
			rc, _, err := s.c.SetResearchConsent(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(rc, []string{"OPTED IN", "PURPOSES"}, [][]string{{strconv.FormatBool(rc.OptIn), strings.Join(rc.Purposes, ",")}})
		})}
	cmd.Flags().BoolVar(&optIn, "opt-in", false, "give consent for --purpose")
	cmd.Flags().BoolVar(&optOut, "opt-out", false, "withdraw consent")
	cmd.Flags().StringSliceVar(&purposes, "purpose", []string{"academic-research"}, "research purposes: academic-research, drug-development, drug-safety, medical-device, public-health, ai-training")
	return cmd
}

func eraseCmd(g *globals, f *clientFlags) *cobra.Command {
	var confirm string
	cmd := &cobra.Command{Use: "erase", Short: "Erase all your records for good (crypto-shredding); cannot be undone", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			if confirm != "erase everything" {
				return fmt.Errorf(`erasure cannot be undone: pass --confirm "erase everything"`)
			}
			e, rc, err := s.c.RequestErasure(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(e, []string{"ERASED AT", "TRANSACTION", "KEYS AND CONTENT"}, [][]string{{day(e.RequestedAt), short(rc.TransactionID), rc.Erasure}})
		})}
	cmd.Flags().StringVar(&confirm, "confirm", "", `type "erase everything" to confirm`)
	return cmd
}

func patientsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "patients", Short: "Patients who granted you access", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.GrantsToMe(cmd.Context(), true, client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, gr := range page.Grants {
				rows = append(rows, []string{gr.Patient, strings.Join(append(gr.Categories, gr.RecordIDs...), ","), strings.Join(gr.Actions, ","), gr.Purpose, until(gr.ValidUntil), gr.ID})
			}
			return s.print(page, []string{"PATIENT", "SCOPE", "ACTIONS", "PURPOSE", "UNTIL", "GRANT"}, rows)
		})}
}

func historyCmd(g *globals, f *clientFlags) *cobra.Command {
	var category, purpose string
	cmd := &cobra.Command{Use: "history <patient>", Short: "Read a patient's whole history you may see (each read audited)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			return showHistory(cmd, s, args[0], category, purpose)
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose of use")
	return cmd
}

func ownHistoryCmd(g *globals, f *clientFlags) *cobra.Command {
	var category string
	cmd := &cobra.Command{Use: "history", Short: "Read all your records: results, medicines, diagnoses, documents (each read in your access trail)", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			return showHistory(cmd, s, me.ID, category, "")
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	return cmd
}

// showHistory reads every record of the patient the caller may read and shows who the
// patient is (when their details are among them) and what each record says.
func showHistory(cmd *cobra.Command, s *session, patient, category, purpose string) error {
	// Content is released a page at a time (each read is audited); follow every page.
	all := &client.ReleasePage{}
	page := client.Page{Size: 20}
	for {
		p, err := s.c.PatientContent(cmd.Context(), patient, category, purpose, page)
		if err != nil {
			return err
		}
		all.Releases = append(all.Releases, p.Releases...)
		if p.Bookmark == "" {
			break
		}
		page.Bookmark = p.Bookmark
	}
	person, rows := historyTable(all.Releases, time.Now())
	if person != "" && !s.json {
		fmt.Fprintf(s.out, "Patient: %s\n\n", person)
	}
	return s.print(all, historyHeader, rows)
}

func appendCmd(g *globals, f *clientFlags) *cobra.Command {
	var file, mediaType string
	cmd := &cobra.Command{Use: "append <record>", Short: "Add a new version to a record (needs an append grant)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			data, err := readInput(file)
			if err != nil {
				return err
			}
			rec, err := s.c.AppendVersion(cmd.Context(), args[0], mediaType, data)
			if err != nil {
				return err
			}
			return s.print(rec, recordHeader, recordRows([]model.Record{*rec}))
		})}
	cmd.Flags().StringVar(&file, "file", "", "the content (- for stdin)")
	cmd.Flags().StringVar(&mediaType, "type", fhir.MediaType, "media type of the content")
	cmd.MarkFlagRequired("file")
	return cmd
}

func emergencyCmd(g *globals, f *clientFlags) *cobra.Command {
	var reason string
	var minutes int
	cmd := &cobra.Command{Use: "emergency <patient>", Short: "Break-glass read access to a patient's records; the patient is told", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			gr, err := s.c.EmergencyAccess(cmd.Context(), model.EmergencyRequest{ID: "e-" + uuid.NewString(), Patient: args[0], Reason: reason, DurationMinutes: minutes})
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.GrantedBy.ID)))
		})}
	cmd.Flags().StringVar(&reason, "reason", "", "patient-unconscious, life-threatening, patient-unable-to-consent, urgent-medication-check or other-emergency")
	cmd.Flags().IntVar(&minutes, "minutes", 240, "how long the access lasts (at most 1440)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func cohortsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "cohorts", Short: "Published anonymised cohorts", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Cohorts(cmd.Context(), client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, co := range page.Cohorts {
				p := co.Publication
				rows = append(rows, []string{p.ID, p.Purpose, strconv.Itoa(p.RowCount), strings.Join(p.Models, ","), "k=" + strconv.Itoa(p.Parameters.K), strings.Join(p.QuasiIdentifiers, ","), day(co.PublishedAt)})
			}
			return s.print(page, []string{"COHORT", "PURPOSE", "ROWS", "MODELS", "PARAMETERS", "QUASI-IDENTIFIERS", "PUBLISHED"}, rows)
		})}
}

func downloadCmd(g *globals, f *clientFlags) *cobra.Command {
	var name, out string
	cmd := &cobra.Command{Use: "download <cohort>", Short: "Download a cohort file (cohort.csv, cohort.parquet, report.json)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			w := cmd.OutOrStdout()
			if out != "" {
				file, err := createFile(out)
				if err != nil {
					return err
				}
				defer file.Close()
				w = file
			}
			_, err := s.c.DownloadCohortFile(cmd.Context(), args[0], name, w)
			return err
		})}
	cmd.Flags().StringVar(&name, "file", "cohort.csv", "which file")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (default stdout)")
	return cmd
}

func queryCmd(g *globals, f *clientFlags) *cobra.Command {
	var by []string
	cmd := &cobra.Command{Use: "query <cohort>", Short: "Counts by attributes, with small cells suppressed", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			res, err := s.c.Query(cmd.Context(), args[0], client.AggregateQuery{GroupBy: by, Statistic: "count"})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, r := range res.Rows {
				rows = append(rows, append(append([]string{}, r.Values...), strconv.FormatFloat(r.Value, 'f', -1, 64)))
			}
			rows = append(rows, []string{fmt.Sprintf("(%d cells suppressed)", res.SuppressedCells)})
			return s.print(res, res.Columns, rows)
		})}
	cmd.Flags().StringSliceVar(&by, "by", []string{"sex"}, "attributes to count by")
	return cmd
}

package demopop

// AgeBand is a band of the age pyramid: the share of adults in it and the share of them who
// are women.
type AgeBand struct {
	Min, Max    int // years, inclusive
	Share       float64
	FemaleShare float64
}

// Pyramid is Germany's adult population by age band (Destatis, 2023, rounded): shares sum to 1.
var Pyramid = []AgeBand{
	{18, 29, 0.153, 0.48},
	{30, 39, 0.157, 0.49},
	{40, 49, 0.146, 0.50},
	{50, 59, 0.187, 0.50},
	{60, 69, 0.163, 0.51},
	{70, 79, 0.111, 0.54},
	{80, 89, 0.070, 0.61},
	{90, 100, 0.013, 0.72},
}

// Place is a German postal code with its city and its weight among the demo's places.
type Place struct {
	PostalCode, City string
	Weight           int
}

// Places are real German postal codes of large cities, weighted roughly by population, with
// several codes per city so that postal-code generalisation has something to do.
var Places = []Place{
	{"10115", "Berlin", 6}, {"10245", "Berlin", 6}, {"12043", "Berlin", 6}, {"13347", "Berlin", 5},
	{"20095", "Hamburg", 5}, {"22081", "Hamburg", 4}, {"21073", "Hamburg", 3},
	{"80331", "München", 5}, {"81369", "München", 4}, {"80939", "München", 3},
	{"50667", "Köln", 4}, {"51065", "Köln", 3}, {"60311", "Frankfurt am Main", 4}, {"65929", "Frankfurt am Main", 2},
	{"70173", "Stuttgart", 3}, {"70372", "Stuttgart", 2}, {"40213", "Düsseldorf", 3}, {"40599", "Düsseldorf", 2},
	{"04109", "Leipzig", 3}, {"04277", "Leipzig", 2}, {"44135", "Dortmund", 3}, {"45127", "Essen", 3},
	{"28195", "Bremen", 3}, {"01067", "Dresden", 3}, {"01309", "Dresden", 2}, {"30159", "Hannover", 3},
	{"90402", "Nürnberg", 3}, {"47051", "Duisburg", 2}, {"44787", "Bochum", 2}, {"42103", "Wuppertal", 2},
	{"33602", "Bielefeld", 2}, {"53111", "Bonn", 2}, {"48143", "Münster", 2}, {"76133", "Karlsruhe", 2},
	{"68159", "Mannheim", 2}, {"86150", "Augsburg", 2}, {"65183", "Wiesbaden", 2}, {"24103", "Kiel", 1},
	{"18055", "Rostock", 1}, {"99084", "Erfurt", 1}, {"39104", "Magdeburg", 1}, {"14467", "Potsdam", 1},
	{"66111", "Saarbrücken", 1}, {"55116", "Mainz", 1}, {"19053", "Schwerin", 1}, {"93047", "Regensburg", 1},
	{"79098", "Freiburg im Breisgau", 1}, {"17489", "Greifswald", 1}, {"37073", "Göttingen", 1},
}

// Condition is a chronic condition the generator draws: its ICD-10-GM code and German display,
// and its prevalence by age band of Pyramid (the same index), multiplied by MaleFactor for men.
type Condition struct {
	Code, Display string
	Prevalence    []float64
	MaleFactor    float64
}

// Conditions are the chronic conditions, with prevalences in the range of German survey data
// (GEDA, DEGS1) for adults by age.
var Conditions = []Condition{
	{"I10.90", "Essentielle Hypertonie, nicht näher bezeichnet", []float64{0.03, 0.08, 0.17, 0.32, 0.50, 0.64, 0.70, 0.72}, 1.1},
	{"E11.9", "Diabetes mellitus, Typ 2: Ohne Komplikationen", []float64{0.005, 0.015, 0.04, 0.09, 0.15, 0.21, 0.24, 0.22}, 1.2},
	{"E78.0", "Reine Hypercholesterinämie", []float64{0.04, 0.08, 0.14, 0.22, 0.30, 0.33, 0.30, 0.25}, 1.0},
	{"I25.9", "Chronische ischämische Herzkrankheit, nicht näher bezeichnet", []float64{0.002, 0.005, 0.02, 0.05, 0.10, 0.17, 0.24, 0.26}, 1.6},
	{"J44.9", "Chronische obstruktive Lungenkrankheit, nicht näher bezeichnet", []float64{0.003, 0.008, 0.02, 0.05, 0.08, 0.11, 0.12, 0.10}, 1.3},
	{"J45.9", "Asthma bronchiale, nicht näher bezeichnet", []float64{0.07, 0.06, 0.06, 0.06, 0.06, 0.06, 0.05, 0.05}, 0.8},
	{"N18.3", "Chronische Nierenkrankheit, Stadium 3", []float64{0.002, 0.004, 0.01, 0.025, 0.06, 0.13, 0.22, 0.30}, 0.9},
	{"F32.1", "Mittelgradige depressive Episode", []float64{0.09, 0.08, 0.08, 0.08, 0.06, 0.05, 0.05, 0.05}, 0.5},
}

// Drug is a medication given for a condition: its ATC code, German display, daily dose and the
// share of patients with the condition who take it.
type Drug struct {
	ATC, Display string
	DoseMG       float64
	PerDay       int
	Share        float64
}

// Drugs are the medications per condition code.
var Drugs = map[string][]Drug{
	"E11.9": {
		{"A10BA02", "Metformin", 1000, 2, 0.80},
		{"A10BH01", "Sitagliptin", 100, 1, 0.15},
		{"A10AE04", "Insulin glargin", 0, 1, 0.18},
	},
	"I10.90": {
		{"C09AA05", "Ramipril", 5, 1, 0.45},
		{"C09CA06", "Candesartan", 8, 1, 0.20},
		{"C08CA01", "Amlodipin", 5, 1, 0.30},
		{"C03AA03", "Hydrochlorothiazid", 12.5, 1, 0.20},
	},
	"E78.0": {{"C10AA01", "Simvastatin", 20, 1, 0.55}},
	"I25.9": {
		{"C10AA05", "Atorvastatin", 40, 1, 0.85},
		{"B01AC06", "Acetylsalicylsäure", 100, 1, 0.80},
		{"C07AB07", "Bisoprolol", 5, 1, 0.60},
	},
	"J44.9": {{"R03BB04", "Tiotropiumbromid", 0.018, 1, 0.70}, {"R03AC02", "Salbutamol", 0.1, 2, 0.60}},
	"J45.9": {{"R03AC02", "Salbutamol", 0.1, 2, 0.80}, {"R03AK07", "Formoterol und Budesonid", 0.2, 2, 0.50}},
	"F32.1": {{"N06AB06", "Sertralin", 50, 1, 0.50}},
}

// LabTest is a lab value the generator draws, with its LOINC code, UCUM unit and reference
// range.
type LabTest struct {
	LOINC, Display, Unit string
	Low, High            float64
	Decimals             int
}

// Lab tests.
var (
	HbA1c      = LabTest{"4548-4", "Hämoglobin A1c/Hämoglobin.gesamt im Blut", "%", 4.0, 5.6, 1}
	LDL        = LabTest{"13457-7", "LDL-Cholesterin im Serum oder Plasma, berechnet", "mg/dL", 0, 115, 0}
	Creatinine = LabTest{"2160-0", "Kreatinin im Serum oder Plasma", "mg/dL", 0.5, 1.2, 2}
)

// Purpose is a research purpose and the share of consenting patients who include it.
type Purpose struct {
	Name  string
	Share float64
}

// ConsentShare is the share of patients who give research consent at all.
const ConsentShare = 0.75

// Purposes are what consenting patients agree to: most to drug safety and academic research,
// fewer to AI training.
var Purposes = []Purpose{
	{"drug-safety", 0.85}, {"academic-research", 0.80}, {"public-health", 0.60},
	{"drug-development", 0.50}, {"medical-device", 0.35}, {"ai-training", 0.20},
}

// Given and family names for the demo's Patient resources: synthetic people, common names.
var (
	femaleNames = []string{"Anna", "Maria", "Ursula", "Monika", "Petra", "Sabine", "Claudia", "Julia", "Katrin", "Lena", "Sophie", "Renate", "Helga", "Sandra", "Nicole"}
	maleNames   = []string{"Peter", "Michael", "Thomas", "Andreas", "Stefan", "Klaus", "Jürgen", "Frank", "Markus", "Lukas", "Jonas", "Wolfgang", "Dieter", "Christian", "Tobias"}
	familyNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann"}
)

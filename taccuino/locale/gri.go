package locale

// griLabels are the texts of the Glycemia Risk Index (Klonoff et al., J
// Diabetes Sci Technol 2023;17:1226) wherever a person reads it: the
// command line, the patient's page, the AGP report and the clinic view.
var griLabels = map[string]map[Lang]string{
	"gri":            {IT: "Indice di rischio glicemico (GRI)", EN: "Glycemia Risk Index (GRI)"},
	"gri_short":      {IT: "GRI", EN: "GRI"},
	"gri_zone":       {IT: "zona", EN: "zone"},
	"gri_zone_title": {IT: "Zona GRI", EN: "GRI zone"},
	"gri_explain": {
		IT: "Riassume in un numero da 0 a 100 il rischio di ipoglicemia e di iperglicemia: più è basso, meglio è (zona A fino a 20, poi B, C, D, fino alla zona E oltre 80).",
		EN: "Sums up the risk of hypoglycaemia and hyperglycaemia in one number from 0 to 100: the lower, the better (zone A up to 20, then B, C, D, up to zone E above 80).",
	},
	"gri_hypo":           {IT: "Componente ipoglicemia", EN: "Hypoglycaemia component"},
	"gri_hyper":          {IT: "Componente iperglicemia", EN: "Hyperglycaemia component"},
	"gri_grid":           {IT: "Griglia GRI", EN: "GRI grid"},
	"gri_grid_desc":      {IT: "Componente ipoglicemia (asse orizzontale) e componente iperglicemia (asse verticale), con le zone da A a E.", EN: "Hypoglycaemia component (horizontal axis) and hyperglycaemia component (vertical axis), with zones A to E."},
	"gri_this":           {IT: "questo periodo", EN: "this period"},
	"gri_previous":       {IT: "periodo precedente", EN: "previous period"},
	"gri_all_zones":      {IT: "Tutte le zone", EN: "All zones"},
	"gri_sort":           {IT: "Ordine", EN: "Order"},
	"gri_sort_attention": {IT: "per categoria e gravità", EN: "by category and severity"},
	"gri_sort_gri":       {IT: "per GRI, dal più alto", EN: "by GRI, highest first"},
	"gri_apply":          {IT: "Applica", EN: "Apply"},
	"gri_formula":        {IT: "GRI = 3,0 × componente ipo + 1,6 × componente iper (Klonoff 2023)", EN: "GRI = 3.0 × hypo component + 1.6 × hyper component (Klonoff 2023)"},
	"extended":           {IT: "Metriche estese", EN: "Extended metrics"},
}

func init() {
	for k, v := range griLabels {
		labels[k] = v
	}
}

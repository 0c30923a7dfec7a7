package locale

// uploaderLabels are the texts of the page where the patient creates and
// revokes the uploaders of the Nightscout-compatible door (the apps that
// send glucose from the phone: xDrip+, Juggluco), and the access log's
// descriptions of what was done there. The apps' menus are shown as the
// apps write them (in the template, marked translate="no").
var uploaderLabels = map[string]map[Lang]string{
	"nsu_page": {IT: "App che inviano le glicemie", EN: "Apps that send glucose readings"},
	"nsu_link": {IT: "App che inviano le glicemie dal telefono (xDrip+, Juggluco)", EN: "Apps that send glucose readings from the phone (xDrip+, Juggluco)"},
	"nsu_intro": {IT: "Se sul telefono usi un'app come xDrip+ o Juggluco, puoi farle inviare le glicemie direttamente al taccuino, come farebbe con un sito Nightscout. Crea qui un indirizzo per ogni app: contiene una chiave segreta che vedrai una volta sola. Puoi revocarlo quando vuoi: l'app non potrà più inviare, le letture già ricevute restano.",
		EN: "If you use an app such as xDrip+ or Juggluco on your phone, it can send glucose readings straight to your notebook, as it would to a Nightscout site. Create an address here for each app: it holds a secret key you will see only once. You can revoke it whenever you like: the app can no longer send, and the readings already received stay."},
	"nsu_list":           {IT: "Indirizzi creati", EN: "Addresses created"},
	"nsu_none":           {IT: "Nessun indirizzo creato finora.", EN: "No address created so far."},
	"nsu_name":           {IT: "Nome", EN: "Name"},
	"nsu_created_at":     {IT: "Creato il", EN: "Created on"},
	"nsu_last_upload":    {IT: "Ultimo invio", EN: "Last upload"},
	"nsu_readings":       {IT: "Letture ricevute", EN: "Readings received"},
	"nsu_state":          {IT: "Stato", EN: "State"},
	"nsu_never":          {IT: "mai", EN: "never"},
	"nsu_live":           {IT: "Attivo", EN: "Active"},
	"nsu_revoked_on":     {IT: "Revocato il", EN: "Revoked on"},
	"nsu_revoke":         {IT: "Revoca…", EN: "Revoke…"},
	"nsu_revoke_confirm": {IT: "L'app che usa questo indirizzo non potrà più inviare glicemie al taccuino. Le letture già ricevute restano. Non si può annullare: per ricominciare crea un nuovo indirizzo.", EN: "The app that uses this address will no longer be able to send glucose readings to the notebook. The readings already received stay. This cannot be undone: to start again, create a new address."},
	"nsu_revoke_title":   {IT: "Vuoi revocare l'indirizzo", EN: "Do you want to revoke the address"},
	"nsu_revoke_no":      {IT: "No, torna all'elenco", EN: "No, back to the list"},
	"nsu_revoke_yes":     {IT: "Sì, revoca", EN: "Yes, revoke"},
	"nsu_revoked_msg":    {IT: "Indirizzo revocato: l'app non può più inviare glicemie.", EN: "Address revoked: the app can no longer send glucose readings."},
	"nsu_add":            {IT: "Crea un indirizzo per un'app", EN: "Create an address for an app"},
	"nsu_label":          {IT: "Nome dell'app, come vuoi riconoscerla", EN: "Name of the app, as you want to recognise it"},
	"nsu_label_help":     {IT: "Per esempio «xDrip+ sul telefono» o «Juggluco di Giulia». Da 1 a 64 caratteri.", EN: "For example \"xDrip+ on the phone\" or \"Giulia's Juggluco\". 1 to 64 characters."},
	"nsu_label_invalid":  {IT: "Scrivi un nome da 1 a 64 caratteri.", EN: "Enter a name of 1 to 64 characters."},
	"nsu_too_many":       {IT: "Hai già 10 indirizzi attivi: revocane uno prima di crearne un altro.", EN: "You already have 10 active addresses: revoke one before creating another."},
	"nsu_create":         {IT: "Crea l'indirizzo", EN: "Create the address"},
	"nsu_created":        {IT: "Indirizzo creato:", EN: "Address created:"},
	"nsu_once":           {IT: "Copia ora l'indirizzo nell'app: contiene la chiave segreta e non lo vedrai più. Non mandarlo a nessuno. Se lo perdi, revocalo e creane un altro.", EN: "Copy the address into the app now: it holds the secret key and you will not see it again. Do not send it to anyone. If you lose it, revoke it and create another."},
	"nsu_url":            {IT: "Indirizzo da copiare", EN: "Address to copy"},
	"nsu_xdrip":          {IT: "Con xDrip+", EN: "With xDrip+"},
	"nsu_xdrip_1":        {IT: "Apri xDrip+ e vai in", EN: "Open xDrip+ and go to"},
	"nsu_xdrip_2":        {IT: "Attiva la voce", EN: "Turn on"},
	"nsu_xdrip_3":        {IT: "Incolla l'indirizzo intero, così com'è, nella voce", EN: "Paste the whole address, as it is, in"},
	"nsu_juggluco":       {IT: "Con Juggluco", EN: "With Juggluco"},
	"nsu_juggluco_1":     {IT: "Apri Juggluco e vai in", EN: "Open Juggluco and go to"},
	"nsu_juggluco_2":     {IT: "Nella voce qui sotto incolla l'indirizzo del sito, senza la chiave:", EN: "In the field below paste the site's address, without the key:"},
	"nsu_juggluco_3":     {IT: "Nella voce qui sotto incolla la chiave segreta:", EN: "In the field below paste the secret key:"},
	"nsu_juggluco_4":     {IT: "Attiva l'invio con la voce", EN: "Turn sending on with"},
	"nsu_after":          {IT: "Dopo il primo invio, qui vedrai la data dell'ultimo invio e quante letture sono arrivate; le glicemie compaiono nel taccuino come quelle del sensore.", EN: "After the first upload you will see here the time of the last upload and how many readings arrived; the readings show in the notebook like the sensor's."},
	// The apps' menus and fields as the apps name them (English; the
	// page marks them translate="no" lang="en"): xDrip+ (documentation,
	// "Nightscout Sync (REST-API)") and Juggluco (help, "Nightscout").
	"nsu_m_xdrip":           {IT: "Settings › Cloud Upload › Nightscout Sync (REST-API)", EN: "Settings › Cloud Upload › Nightscout Sync (REST-API)"},
	"nsu_m_xdrip_on":        {IT: "Enabled", EN: "Enabled"},
	"nsu_m_xdrip_url":       {IT: "Base URL", EN: "Base URL"},
	"nsu_m_juggluco":        {IT: "Left menu › Settings › Exchange data › Nightscout", EN: "Left menu › Settings › Exchange data › Nightscout"},
	"nsu_m_juggluco_url":    {IT: "URL", EN: "URL"},
	"nsu_m_juggluco_secret": {IT: "Secret", EN: "Secret"},
	"nsu_m_juggluco_on":     {IT: "Active", EN: "Active"},
	// The access log's descriptions (consent.Store.Access details of
	// nsdoor.go and uploaders_page.go).
	"log_uploaders":        {IT: "app che inviano le glicemie", EN: "apps that send glucose readings"},
	"log_uploader_create":  {IT: "creazione di un indirizzo per un'app che invia le glicemie", EN: "creation of an address for an app that sends glucose readings"},
	"log_uploader_revoke":  {IT: "revoca di un indirizzo di un'app che invia le glicemie", EN: "revocation of an address of an app that sends glucose readings"},
	"log_uploader_upload":  {IT: "glicemie inviate da un'app (%s)", EN: "glucose readings sent by an app (%s)"},
	"log_uploader_read":    {IT: "glicemie lette da un'app (%s)", EN: "glucose readings read by an app (%s)"},
	"log_uploader_refused": {IT: "richiesta di un'app rifiutata (%s): %s", EN: "an app's request refused (%s): %s"},
	"log_uploader_wrong":   {IT: "chiave segreta errata o mancante", EN: "wrong or missing secret key"},
	"log_uploader_revoked": {IT: "indirizzo revocato", EN: "address revoked"},
}

func init() {
	for k, v := range uploaderLabels {
		pageLabels[k] = v
	}
}

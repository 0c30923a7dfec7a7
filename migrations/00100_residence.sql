-- +goose Up
-- Where each patient lives, for the population view (package
-- taccuino/population; numbers 00100-00109 belong to it): the residence
-- the regional registry service loads beside the care relationships
-- (consent.Store.UpsertResidence), as the ISTAT code of a comune, and the
-- table that places each comune in its zona-distretto and each
-- zona-distretto in its ASL.
--
-- Sources. The three Aziende USL are those of L.R. Toscana 28 dicembre
-- 2015, n. 84 (Toscana Centro, Toscana Nord Ovest, Toscana Sud Est). The
-- zone-distretto are those of Allegato B of L.R. Toscana 24 febbraio 2005,
-- n. 40, as L.R. 23 marzo 2017, n. 11 reduced them to 26 and as the
-- Consiglio regionale later divided the Aretina-Casentino-Valtiberina zone
-- in three (Aretina, Casentino, Valtiberina): 28 zones. That list was
-- reconstructed from the Region's and the ASLs' published pages; it could
-- not be checked here against the Region's current list (Regione Toscana,
-- "Zone distretto e Società della Salute"), which is the authority: load it
-- with "fsecgm population comuni load FILE" (its format is documented
-- there and in the README), which also corrects the zones.
--
-- Comuni: ISTAT codes are the province's code (045 Massa-Carrara, 046
-- Lucca, 047 Pistoia, 048 Firenze, 049 Livorno, 050 Pisa, 051 Arezzo, 052
-- Siena, 053 Grosseto, 100 Prato) and the comune's number in it (ISTAT,
-- "Codici statistici delle unità amministrative territoriali"). Only a
-- representative subset is loaded here (every comune of the provinces of
-- Prato and Massa-Carrara, the chief towns and some others): the full table
-- of the 273 Tuscan comuni comes from the ISTAT list and the Region's zone
-- list through the same command. A residence in a comune the table does not
-- know is kept (the registry is right) and counted under "zona non nota".

CREATE TABLE health_authorities (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{1,16}$'),
    name text NOT NULL CHECK (name <> '' AND length(name) <= 128)
);

CREATE TABLE health_districts (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z0-9-]{1,64}$'),
    name      text NOT NULL CHECK (name <> '' AND length(name) <= 128),
    authority text NOT NULL REFERENCES health_authorities (code)
);

CREATE TABLE municipalities (
    istat    text PRIMARY KEY CHECK (istat ~ '^[0-9]{6}$'),
    name     text NOT NULL CHECK (name <> '' AND length(name) <= 128),
    district text NOT NULL REFERENCES health_districts (code)
);
CREATE INDEX municipalities_district ON municipalities (district);

-- The residence of a person (by fiscal code, like the care relationships:
-- the registry speaks of every resident). One row per person: the current
-- residence.
CREATE TABLE residences (
    patient_fiscal_code text PRIMARY KEY CHECK (patient_fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    municipality        text NOT NULL CHECK (municipality ~ '^[0-9]{6}$'),
    valid_from          timestamptz,
    source              text NOT NULL DEFAULT '' CHECK (length(source) <= 64),
    updated_at          timestamptz NOT NULL
);

INSERT INTO health_authorities (code, name) VALUES
    ('TC', 'Azienda USL Toscana Centro'),
    ('NO', 'Azienda USL Toscana Nord Ovest'),
    ('SE', 'Azienda USL Toscana Sud Est');

INSERT INTO health_districts (code, name, authority) VALUES
    ('firenze', 'Firenze', 'TC'),
    ('fiorentina-nord-ovest', 'Fiorentina Nord-Ovest', 'TC'),
    ('fiorentina-sud-est', 'Fiorentina Sud-Est', 'TC'),
    ('mugello', 'Mugello', 'TC'),
    ('empolese-valdarno-valdelsa', 'Empolese Valdarno Valdelsa', 'TC'),
    ('pratese', 'Pratese', 'TC'),
    ('pistoiese', 'Pistoiese', 'TC'),
    ('val-di-nievole', 'Val di Nievole', 'TC'),
    ('apuane', 'Apuane', 'NO'),
    ('lunigiana', 'Lunigiana', 'NO'),
    ('piana-di-lucca', 'Piana di Lucca', 'NO'),
    ('valle-del-serchio', 'Valle del Serchio', 'NO'),
    ('versilia', 'Versilia', 'NO'),
    ('pisana', 'Pisana', 'NO'),
    ('alta-val-di-cecina-valdera', 'Alta Val di Cecina - Valdera', 'NO'),
    ('livornese', 'Livornese', 'NO'),
    ('valli-etrusche', 'Valli Etrusche', 'NO'),
    ('elba', 'Elba', 'NO'),
    ('alta-val-d-elsa', 'Alta Val d''Elsa', 'SE'),
    ('senese', 'Senese', 'SE'),
    ('amiata-senese-valdichiana-senese', 'Amiata Senese e Val d''Orcia - Valdichiana Senese', 'SE'),
    ('aretina', 'Aretina', 'SE'),
    ('casentino', 'Casentino', 'SE'),
    ('valtiberina', 'Valtiberina', 'SE'),
    ('valdarno', 'Valdarno', 'SE'),
    ('valdichiana-aretina', 'Valdichiana Aretina', 'SE'),
    ('amiata-grossetana-colline-metallifere-grossetana', 'Amiata Grossetana - Colline Metallifere - Grossetana', 'SE'),
    ('colline-dell-albegna', 'Colline dell''Albegna', 'SE');

INSERT INTO municipalities (istat, name, district) VALUES
    -- Prato: the whole province
    ('100001', 'Cantagallo', 'pratese'),
    ('100002', 'Carmignano', 'pratese'),
    ('100003', 'Montemurlo', 'pratese'),
    ('100004', 'Poggio a Caiano', 'pratese'),
    ('100005', 'Prato', 'pratese'),
    ('100006', 'Vaiano', 'pratese'),
    ('100007', 'Vernio', 'pratese'),
    -- Massa-Carrara: the whole province
    ('045001', 'Aulla', 'lunigiana'),
    ('045002', 'Bagnone', 'lunigiana'),
    ('045003', 'Carrara', 'apuane'),
    ('045004', 'Casola in Lunigiana', 'lunigiana'),
    ('045005', 'Comano', 'lunigiana'),
    ('045006', 'Filattiera', 'lunigiana'),
    ('045007', 'Fivizzano', 'lunigiana'),
    ('045008', 'Fosdinovo', 'lunigiana'),
    ('045009', 'Licciana Nardi', 'lunigiana'),
    ('045010', 'Massa', 'apuane'),
    ('045011', 'Montignoso', 'apuane'),
    ('045012', 'Mulazzo', 'lunigiana'),
    ('045013', 'Podenzana', 'lunigiana'),
    ('045014', 'Pontremoli', 'lunigiana'),
    ('045015', 'Tresana', 'lunigiana'),
    ('045016', 'Villafranca in Lunigiana', 'lunigiana'),
    ('045017', 'Zeri', 'lunigiana'),
    -- the chief towns and some others
    ('048017', 'Firenze', 'firenze'),
    ('047002', 'Agliana', 'pistoiese'),
    ('047011', 'Montecatini-Terme', 'val-di-nievole'),
    ('047012', 'Pescia', 'val-di-nievole'),
    ('047014', 'Pistoia', 'pistoiese'),
    ('050032', 'San Miniato', 'empolese-valdarno-valdelsa'),
    ('046001', 'Altopascio', 'piana-di-lucca'),
    ('046003', 'Barga', 'valle-del-serchio'),
    ('046005', 'Camaiore', 'versilia'),
    ('046007', 'Capannori', 'piana-di-lucca'),
    ('046009', 'Castelnuovo di Garfagnana', 'valle-del-serchio'),
    ('046013', 'Forte dei Marmi', 'versilia'),
    ('046017', 'Lucca', 'piana-di-lucca'),
    ('050008', 'Cascina', 'pisana'),
    ('050026', 'Pisa', 'pisana'),
    ('050029', 'Pontedera', 'alta-val-di-cecina-valdera'),
    ('050039', 'Volterra', 'alta-val-di-cecina-valdera'),
    ('049007', 'Cecina', 'valli-etrusche'),
    ('049008', 'Collesalvetti', 'livornese'),
    ('049009', 'Livorno', 'livornese'),
    ('049012', 'Piombino', 'valli-etrusche'),
    ('049014', 'Portoferraio', 'elba'),
    ('052009', 'Chianciano Terme', 'amiata-senese-valdichiana-senese'),
    ('052012', 'Colle di Val d''Elsa', 'alta-val-d-elsa'),
    ('052015', 'Montepulciano', 'amiata-senese-valdichiana-senese'),
    ('052022', 'Poggibonsi', 'alta-val-d-elsa'),
    ('052032', 'Siena', 'senese'),
    ('051001', 'Anghiari', 'valtiberina'),
    ('051002', 'Arezzo', 'aretina'),
    ('051004', 'Bibbiena', 'casentino'),
    ('051017', 'Cortona', 'valdichiana-aretina'),
    ('051025', 'Montevarchi', 'valdarno'),
    ('051033', 'Sansepolcro', 'valtiberina'),
    ('053009', 'Follonica', 'amiata-grossetana-colline-metallifere-grossetana'),
    ('053011', 'Grosseto', 'amiata-grossetana-colline-metallifere-grossetana'),
    ('053018', 'Orbetello', 'colline-dell-albegna');

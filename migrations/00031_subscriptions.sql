-- +goose Up
-- The clinical records fsecgm delivers CGM summaries to (package
-- taccuino/records). Secrets are never stored here: a subscription names
-- the environment variable or the file that holds its bearer token or
-- client secret.
--
--   kind          diabetology (a diabetology centre's record), ehr (the
--                 regional health record), mmg (general practitioners'
--                 records)
--   auth_kind     none | bearer (token from auth_secret_env or
--                 auth_secret_file) | client_credentials (OAuth 2.0 client
--                 credentials grant at auth_token_url as auth_client_id,
--                 secret from auth_secret_env or auth_secret_file, optional
--                 auth_scope)
--   scope_kind    all (every patient) | care (patients with a care
--                 relationship in force of kind care_kind, with party
--                 care_party when not '') | list (subscription_patients)
--   ig_only       send only the IG's profiles (no local figures)
CREATE TABLE subscriptions (
    id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    kind             text NOT NULL CHECK (kind IN ('diabetology', 'ehr', 'mmg')),
    base_url         text NOT NULL CHECK (base_url ~ '^https?://[^/?#]+' AND length(base_url) <= 1024),
    auth_kind        text NOT NULL DEFAULT 'none' CHECK (auth_kind IN ('none', 'bearer', 'client_credentials')),
    auth_secret_env  text NOT NULL DEFAULT '' CHECK (auth_secret_env ~ '^([A-Za-z_][A-Za-z0-9_]{0,127})?$'),
    auth_secret_file text NOT NULL DEFAULT '' CHECK (length(auth_secret_file) <= 1024),
    auth_token_url   text NOT NULL DEFAULT '' CHECK (auth_token_url = '' OR auth_token_url ~ '^https?://[^/?#]+'),
    auth_client_id   text NOT NULL DEFAULT '' CHECK (length(auth_client_id) <= 256),
    auth_scope       text NOT NULL DEFAULT '' CHECK (length(auth_scope) <= 1024),
    scope_kind       text NOT NULL CHECK (scope_kind IN ('all', 'care', 'list')),
    care_kind        text NOT NULL DEFAULT '' CHECK (care_kind IN ('', 'mmg', 'pls', 'diabetology')),
    care_party       text NOT NULL DEFAULT '' CHECK (length(care_party) <= 64),
    ig_only          boolean NOT NULL DEFAULT false,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope_kind = 'care') = (care_kind <> '')),
    CHECK (scope_kind = 'care' OR care_party = ''),
    CHECK (auth_kind = 'none' OR (auth_secret_env <> '') <> (auth_secret_file <> '')),
    CHECK (auth_kind = 'none' OR auth_kind = 'bearer' OR (auth_token_url <> '' AND auth_client_id <> '')),
    CHECK (auth_kind <> 'none' OR (auth_secret_env = '' AND auth_secret_file = ''))
);

-- The patients of a subscription with scope_kind 'list'.
CREATE TABLE subscription_patients (
    subscription_id integer NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    patient_id      integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, patient_id)
);
CREATE INDEX subscription_patients_patient ON subscription_patients (patient_id);

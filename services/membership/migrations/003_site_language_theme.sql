-- The Customer Center's pages speak the site's language and wear its colours and logo.
ALTER TABLE sites
    ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'fr')),
    ADD COLUMN theme    jsonb NOT NULL DEFAULT '{}';

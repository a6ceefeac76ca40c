-- A charge's token is looked up before the charge is stored (an unknown one is refused with 404,
-- services/sandbox/charges.py) and tokens are never deleted, so the foreign key checked nothing the
-- sandbox had not: it cost a query and a KEY SHARE lock on the token's row per charge, and a batch
-- of charges on one test card (the billing benchmark's) locked that one row from every concurrent
-- request (a MultiXact each time two overlapped).
ALTER TABLE charges DROP CONSTRAINT IF EXISTS charges_token_fkey;

-- One account per Katana customer or supplier in the map: `account_of` answers by
-- Katana id, and a second account mapped to the same record would be a guess.
CREATE UNIQUE INDEX luca_accounts_by_katana ON luca_accounts (kind, katana_id)
    WHERE katana_id IS NOT NULL;

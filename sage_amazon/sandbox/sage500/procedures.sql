-- The "Sage side" of the sandbox: Sage 500 stored procedures re-written in PL/pgSQL with Sage's
-- semantics (see README.md). Parameters keep Sage's names without the '@'. PostgreSQL requires every
-- OUT parameter to be passed in CALL (as NULL); callers use named notation.

-- Re-installing replaces every procedure, whatever signature an older version had.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname IN (
                 'spgetnextsurrogatekey', 'spgetnextblocksurrogatekey', 'spdmcreatemigrationlogentry',
                 'spsoapisalesordins', 'spglapipostbatchlessglposting', 'spsosandboxshiporder',
                 'spimapiinvtadjins', 'sparapiinvoiceins', 'spdmimportcallcheck', 'sparapiapplymemo',
                 'spsocreateinvoices')
    LOOP
        EXECUTE 'DROP ROUTINE ' || r.sig;
    END LOOP;
END $$;

-- Surrogate keys ------------------------------------------------------------------------------------
CREATE OR REPLACE PROCEDURE spGetNextSurrogateKey(iTableName varchar, OUT oNewKey int)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tciSurrogateKey AS k (TableName, NextKey) VALUES (iTableName, 2)
    ON CONFLICT (TableName) DO UPDATE SET NextKey = k.NextKey + 1
    RETURNING k.NextKey - 1 INTO oNewKey;
END $$;

CREATE OR REPLACE PROCEDURE spGetNextBlockSurrogateKey(iTableName varchar, iNumKeys int,
                                                       OUT oStartKey int, OUT oEndKey int)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tciSurrogateKey AS k (TableName, NextKey) VALUES (iTableName, 1 + iNumKeys)
    ON CONFLICT (TableName) DO UPDATE SET NextKey = k.NextKey + iNumKeys
    RETURNING k.NextKey - iNumKeys INTO oStartKey;
    oEndKey := oStartKey + iNumKeys - 1;
END $$;

-- Migration log ------------------------------------------------------------------------------------
CREATE OR REPLACE PROCEDURE spdmCreateMigrationLogEntry(iSessionKey int, iEntityID varchar, iColumnID varchar,
                                                        iColumnValue varchar, iStatus smallint,
                                                        iDuplicate smallint, iComment varchar)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tdmMigrationLogWrk (SessionKey, EntityID, ColumnID, ColumnValue, Status, Duplicate, Comment)
    VALUES (iSessionKey, left(iEntityID, 255), left(iColumnID, 35), left(iColumnValue, 255), iStatus,
            iDuplicate, left(iComment, 255));
END $$;

-- Sales order import ------------------------------------------------------------------------------
-- Processes the session's unprocessed StgSalesOrder rows (and their StgSOLine rows by TranNo), up to
-- MAX_ROWS_PER_RUN headers per call (oContinue = 1 when rows remain). A valid order is created in
-- tsoSalesOrder / tsoSOLine / tsoSOLineDist and its staging rows are DELETED; an invalid one stays with
-- ProcessStatus 2 and one tdmMigrationLogWrk row (Status 1) per reason. _oRetVal: 1 all succeeded,
-- 2 some failed, 3 bad parameters, 0 unexpected error.
CREATE OR REPLACE PROCEDURE spSOapiSalesOrdIns(
    iCancel int, iSessionKey int, iCompanyID varchar, iRptOption int, iPrintWarnings int,
    UseStageTable int,
    OUT oContinue int, OUT oRecsProcessed int, OUT oFailedRecs int, OUT oTotalRecs int,
    OUT _oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    MAX_ROWS_PER_RUN CONSTANT int := 500;
    MIG_FAILURE CONSTANT smallint := 1;
    MIG_SUCCESS CONSTANT smallint := 3;
    h record;
    l record;
    v_errs int;
    v_dup smallint;
    v_action smallint;
    v_cust record;
    v_curr varchar(3);
    v_digits smallint;
    v_status smallint;
    v_hold smallint;
    v_whse int;
    v_line_whse int;
    v_shipmeth int;
    v_line_shipmeth int;
    v_item record;
    v_glacct int;
    v_ext numeric;
    v_disc numeric;
    v_sales numeric;
    v_sokey int;
    v_solinekey int;
    v_addr int;
    v_nlines int;
    v_trandate date;
BEGIN
    oContinue := 0; oRecsProcessed := 0; oFailedRecs := 0; oTotalRecs := 0; _oRetVal := 0;
    IF iSessionKey IS NULL OR iCompanyID IS NULL OR coalesce(UseStageTable, 1) <> 1
       OR NOT EXISTS (SELECT 1 FROM tsmCompany c WHERE c.CompanyID = iCompanyID) THEN
        _oRetVal := 3;
        RETURN;
    END IF;
    IF iCancel = 1 THEN
        _oRetVal := 1;
        RETURN;
    END IF;
    IF (SELECT count(*) FROM tsmCompanyModule m
        WHERE m.CompanyID = iCompanyID AND m.ModuleNo IN (2, 5, 8) AND m.Active = 1) < 3 THEN
        CALL spdmCreateMigrationLogEntry(iSessionKey, 'StgSalesOrder', 'CompanyID', iCompanyID, MIG_FAILURE, 0::smallint,
            'Modules CI, AR and SO must be active for company ' || iCompanyID || '.');
        _oRetVal := 3;
        RETURN;
    END IF;

    BEGIN
        -- Lines whose header is not in the session can never be processed.
        FOR l IN SELECT s.RowKey, s.TranNo FROM StgSOLine s
                 WHERE s.SessionKey = iSessionKey AND s.ProcessStatus = 0
                   AND NOT EXISTS (SELECT 1 FROM StgSalesOrder o
                                   WHERE o.SessionKey = iSessionKey AND o.TranNo = s.TranNo)
        LOOP
            CALL spdmCreateMigrationLogEntry(iSessionKey, 'StgSOLine', 'TranNo', l.TranNo, MIG_FAILURE, 0::smallint,
                'HDR REC MISSING: no StgSalesOrder row with TranNo ''' || coalesce(l.TranNo, '') || ''' in this session.');
            UPDATE StgSOLine SET ProcessStatus = 2 WHERE RowKey = l.RowKey;
        END LOOP;

        SELECT count(*) INTO oTotalRecs FROM StgSalesOrder o
        WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0;

        FOR h IN SELECT * FROM StgSalesOrder o
                 WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0
                 ORDER BY o.RowKey LIMIT MAX_ROWS_PER_RUN
        LOOP
          BEGIN
            v_errs := 0;
            v_action := CASE WHEN coalesce(h.Action, 0) = 0 THEN 1 ELSE h.Action END;

            -- Status text -> tsoSalesOrder.Status list value
            v_status := CASE lower(coalesce(nullif(trim(h.Status), ''), 'Open'))
                WHEN 'not active' THEN 0 WHEN 'open' THEN 1 WHEN 'inactive' THEN 2 WHEN 'canceled' THEN 3
                WHEN 'cancelled' THEN 3 WHEN 'closed' THEN 4 WHEN 'incomplete' THEN 5
                WHEN 'pending approval' THEN 6 ELSE NULL END;
            IF v_status IS NULL THEN
                v_errs := v_errs + 1;
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'Status', h.Status, MIG_FAILURE, 0::smallint,
                    'Invalid Status ''' || h.Status || '''. Valid values: Open, Inactive, Canceled, Closed, Incomplete, Pending Approval.');
            END IF;
            v_hold := CASE lower(coalesce(nullif(trim(h.Hold), ''), 'No')) WHEN 'yes' THEN 1 WHEN 'no' THEN 0 ELSE NULL END;
            IF v_hold IS NULL THEN
                v_errs := v_errs + 1;
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'Hold', h.Hold, MIG_FAILURE, 0::smallint,
                    'Invalid value ''' || h.Hold || ''' for Hold. Valid values: Yes, No.');
            END IF;

            IF v_action = 2 THEN
                -- Update: only the columns the import job allows (Status, Hold, HoldReason, TranCmnt).
                SELECT so.SOKey INTO v_sokey FROM tsoSalesOrder so
                WHERE so.CompanyID = iCompanyID AND so.TranType = 801 AND so.TranNo = h.TranNo;
                IF v_sokey IS NULL THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranNo', h.TranNo, MIG_FAILURE, 0::smallint,
                        'Sales order ''' || coalesce(h.TranNo, '') || ''' does not exist; it cannot be updated.');
                END IF;
                IF v_errs = 0 THEN
                    -- a column left NULL in staging keeps its value
                    IF nullif(trim(h.Status), '') IS NULL THEN
                        SELECT so.Status INTO v_status FROM tsoSalesOrder so WHERE so.SOKey = v_sokey;
                    END IF;
                    UPDATE tsoSalesOrder SET Status = v_status,
                           Hold = CASE WHEN nullif(trim(h.Hold), '') IS NULL THEN Hold ELSE v_hold END,
                           HoldReason = coalesce(h.HoldReason, HoldReason), TranCmnt = coalesce(h.TranCmnt, TranCmnt),
                           UpdateDate = now()
                    WHERE SOKey = v_sokey;
                    IF v_status IN (3, 4) THEN
                        UPDATE tsoSOLine SET Status = 2 WHERE SOKey = v_sokey;
                        UPDATE tsoSOLineDist d SET Status = 2
                        FROM tsoSOLine sl WHERE sl.SOLineKey = d.SOLineKey AND sl.SOKey = v_sokey;
                    END IF;
                END IF;
            ELSIF v_action <> 1 THEN
                v_errs := v_errs + 1;
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'Action', h.Action::varchar, MIG_FAILURE, 0::smallint,
                    'Action ' || h.Action || ' is not supported by this import job (1 insert, 2 update).');
            ELSE
                -- Insert: header validation
                IF coalesce(trim(h.TranNo), '') = '' THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, 'StgSalesOrder', 'TranNo', '', MIG_FAILURE, 0::smallint,
                        'TranNo is required.');
                ELSIF EXISTS (SELECT 1 FROM tsoSalesOrder so WHERE so.CompanyID = iCompanyID
                              AND so.TranType = 801 AND so.TranNo = h.TranNo) THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranNo', h.TranNo, MIG_FAILURE, 1::smallint,
                        'Sales order ''' || h.TranNo || ''' already exists.');
                END IF;

                SELECT c.CustKey, c.Status, c.DfltShipToAddrKey, ca.CurrID, ca.WhseKey, ca.ShipMethKey
                INTO v_cust
                FROM tarCustomer c LEFT JOIN tarCustAddr ca ON ca.AddrKey = c.DfltBillToAddrKey
                WHERE c.CompanyID = iCompanyID AND c.CustID = h.CustID;
                IF v_cust.CustKey IS NULL THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CustID', h.CustID, MIG_FAILURE, 0::smallint,
                        'Invalid Customer ID ''' || coalesce(h.CustID, '') || ''': no such customer in company ' || iCompanyID || '.');
                ELSIF v_cust.Status NOT IN (1, 3) THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CustID', h.CustID, MIG_FAILURE, 0::smallint,
                        'Customer ''' || h.CustID || ''' is not active.');
                END IF;

                v_curr := coalesce(nullif(trim(h.CurrID), ''), v_cust.CurrID);
                SELECT cu.DigitsAfterDecimal INTO v_digits FROM tmcCurrency cu WHERE cu.CurrID = v_curr;
                IF v_digits IS NULL THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CurrID', h.CurrID, MIG_FAILURE, 0::smallint,
                        'Invalid Currency ID ''' || coalesce(h.CurrID, '') || '''.');
                    v_digits := 2;
                ELSIF v_cust.CurrID IS NOT NULL AND v_cust.CurrID <> v_curr THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CurrID', h.CurrID, MIG_FAILURE, 0::smallint,
                        'Currency ''' || v_curr || ''' does not match the currency ''' || v_cust.CurrID
                        || ''' of customer ''' || h.CustID || '''.');
                END IF;

                v_whse := NULL;
                IF coalesce(trim(h.DfltWarehouseID), '') <> '' THEN
                    SELECT w.WhseKey INTO v_whse FROM timWarehouse w
                    WHERE w.CompanyID = iCompanyID AND w.WhseID = h.DfltWarehouseID;
                    IF v_whse IS NULL THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'DfltWarehouseID', h.DfltWarehouseID,
                            MIG_FAILURE, 0::smallint, 'Invalid Warehouse ID ''' || h.DfltWarehouseID || '''.');
                    END IF;
                ELSE
                    v_whse := v_cust.WhseKey;
                END IF;

                v_shipmeth := v_cust.ShipMethKey;
                IF coalesce(trim(h.DfltShipMethID), '') <> '' THEN
                    SELECT sm.ShipMethKey INTO v_shipmeth FROM tciShipMethod sm
                    WHERE sm.CompanyID = iCompanyID AND sm.ShipMethID = h.DfltShipMethID;
                    IF v_shipmeth IS NULL THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'DfltShipMethID', h.DfltShipMethID,
                            MIG_FAILURE, 0::smallint, 'Invalid Ship Method ID ''' || h.DfltShipMethID || '''.');
                    END IF;
                END IF;

                IF coalesce(h.FreightAmt, 0) < 0 OR round(coalesce(h.FreightAmt, 0), v_digits) <> coalesce(h.FreightAmt, 0) THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'FreightAmt', h.FreightAmt::varchar, MIG_FAILURE,
                        0::smallint, 'FreightAmt must be positive with at most ' || v_digits || ' decimal places.');
                END IF;

                -- Line validation
                SELECT count(*) INTO v_nlines FROM StgSOLine s WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
                IF v_nlines = 0 THEN
                    v_errs := v_errs + 1;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranNo', h.TranNo, MIG_FAILURE, 0::smallint,
                        'Sales order ''' || coalesce(h.TranNo, '') || ''' has no StgSOLine rows.');
                END IF;
                FOR l IN SELECT s.*, count(*) OVER (PARTITION BY s.SOLineNo) AS SameNo FROM StgSOLine s
                         WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo ORDER BY s.SOLineNo, s.RowKey
                LOOP
                    SELECT i.ItemKey, i.Status INTO v_item FROM timItem i
                    WHERE i.CompanyID = iCompanyID AND i.ItemID = l.ItemID;
                    IF v_item.ItemKey IS NULL THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ItemID', l.ItemID, MIG_FAILURE, 0::smallint,
                            'Line ' || coalesce(l.SOLineNo::varchar, '?') || ': Invalid Item ID ''' || coalesce(l.ItemID, '') || '''.');
                    ELSIF v_item.Status <> 1 THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ItemID', l.ItemID, MIG_FAILURE, 0::smallint,
                            'Line ' || l.SOLineNo || ': Item ''' || l.ItemID || ''' is not active.');
                    END IF;
                    IF l.SOLineNo IS NULL OR l.SameNo > 1 THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'SOLineNo', l.SOLineNo::varchar, MIG_FAILURE,
                            0::smallint, 'Missing or duplicate SOLineNo.');
                    END IF;
                    IF coalesce(l.QtyOrd, 0) <= 0 THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'QtyOrd', l.QtyOrd::varchar, MIG_FAILURE,
                            0::smallint, 'Line ' || coalesce(l.SOLineNo::varchar, '?') || ': QtyOrd must be greater than zero.');
                    END IF;
                    IF l.UnitPrice IS NULL OR l.UnitPrice < 0 THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'UnitPrice', l.UnitPrice::varchar, MIG_FAILURE,
                            0::smallint, 'Line ' || coalesce(l.SOLineNo::varchar, '?') || ': UnitPrice is required and cannot be negative.');
                    ELSIF coalesce(l.QtyOrd, 0) > 0 THEN
                        v_disc := coalesce(l.TradeDiscAmt, 0);
                        v_ext := round(l.QtyOrd * l.UnitPrice, v_digits) - v_disc;
                        IF v_disc < 0 OR v_ext < 0 OR round(v_disc, v_digits) <> v_disc THEN
                            v_errs := v_errs + 1;
                            CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TradeDiscAmt', l.TradeDiscAmt::varchar,
                                MIG_FAILURE, 0::smallint, 'Line ' || l.SOLineNo
                                || ': TradeDiscAmt must be between 0 and the extended amount, in currency precision.');
                        ELSIF l.ExtAmt IS NOT NULL AND l.ExtAmt <> v_ext THEN
                            v_errs := v_errs + 1;
                            CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ExtAmt', l.ExtAmt::varchar, MIG_FAILURE,
                                0::smallint, 'Line ' || l.SOLineNo || ': ExtAmt ' || l.ExtAmt
                                || ' does not equal QtyOrd x UnitPrice - TradeDiscAmt (' || v_ext || ').');
                        END IF;
                    END IF;
                    IF coalesce(trim(l.WarehouseID), '') <> '' AND NOT EXISTS (
                        SELECT 1 FROM timWarehouse w WHERE w.CompanyID = iCompanyID AND w.WhseID = l.WarehouseID) THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'WarehouseID', l.WarehouseID, MIG_FAILURE,
                            0::smallint, 'Line ' || l.SOLineNo || ': Invalid Warehouse ID ''' || l.WarehouseID || '''.');
                    END IF;
                    IF coalesce(trim(l.GLAcctNo), '') <> '' AND NOT EXISTS (
                        SELECT 1 FROM tglAccount a WHERE a.CompanyID = iCompanyID AND a.Status = 1
                        AND a.GLAcctNo = replace(l.GLAcctNo, '-', '')) THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'GLAcctNo', l.GLAcctNo, MIG_FAILURE,
                            0::smallint, 'Line ' || l.SOLineNo || ': Invalid or inactive GL Account ''' || l.GLAcctNo || '''.');
                    END IF;
                    IF coalesce(trim(l.ShipMethID), '') <> '' AND NOT EXISTS (
                        SELECT 1 FROM tciShipMethod sm WHERE sm.CompanyID = iCompanyID AND sm.ShipMethID = l.ShipMethID) THEN
                        v_errs := v_errs + 1;
                        CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ShipMethID', l.ShipMethID, MIG_FAILURE,
                            0::smallint, 'Line ' || l.SOLineNo || ': Invalid Ship Method ID ''' || l.ShipMethID || '''.');
                    END IF;
                END LOOP;

                IF v_errs = 0 THEN
                    v_trandate := coalesce(h.TranDate, current_date);
                    v_addr := v_cust.DfltShipToAddrKey;
                    IF coalesce(h.DfltShipToAddrName, h.DfltShipToAddrLine1, h.DfltShipToCity) IS NOT NULL THEN
                        INSERT INTO tciAddress (AddrName, AddrLine1, AddrLine2, AddrLine3, AddrLine4, AddrLine5, City,
                                                StateID, PostalCode, CountryID)
                        VALUES (coalesce(h.DfltShipToAddrName, ''), h.DfltShipToAddrLine1, h.DfltShipToAddrLine2,
                                h.DfltShipToAddrLine3, h.DfltShipToAddrLine4, h.DfltShipToAddrLine5, h.DfltShipToCity,
                                h.DfltShipToStateID, h.DfltShipToPostalCode, h.DfltShipToCountryID)
                        RETURNING AddrKey INTO v_addr;
                    END IF;
                    INSERT INTO tsoSalesOrder (CompanyID, TranNo, TranID, TranType, CustKey, CustPONo, TranDate, Status,
                                               CurrID, CurrExchRate, FreightAmt, STaxAmt, TradeDiscAmt, DfltWhseKey,
                                               DfltShipToAddrKey, DfltShipMethKey, Hold, HoldReason, TranCmnt,
                                               UserFld1, UserFld2, UserFld3, UserFld4)
                    VALUES (iCompanyID, h.TranNo, h.TranNo || '-SO', 801, v_cust.CustKey, h.CustPONo, v_trandate, v_status,
                            v_curr, coalesce(h.CurrExchRate, 1), coalesce(h.FreightAmt, 0), coalesce(h.STaxAmt, 0),
                            coalesce(h.TradeDiscAmt, 0), v_whse, v_addr, v_shipmeth, v_hold, h.HoldReason, h.TranCmnt,
                            h.UserFld1, h.UserFld2, h.UserFld3, h.UserFld4)
                    RETURNING SOKey INTO v_sokey;

                    v_sales := 0;
                    FOR l IN SELECT s.*, i.ItemKey, i.SalesUnitMeasKey, d.ShortDesc
                             FROM StgSOLine s
                             JOIN timItem i ON i.CompanyID = iCompanyID AND i.ItemID = s.ItemID
                             LEFT JOIN timItemDescription d ON d.ItemKey = i.ItemKey AND d.LanguageID = 1033
                             WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo ORDER BY s.SOLineNo
                    LOOP
                        v_ext := round(l.QtyOrd * l.UnitPrice, v_digits) - coalesce(l.TradeDiscAmt, 0);
                        v_sales := v_sales + v_ext;
                        v_line_whse := v_whse;
                        IF coalesce(trim(l.WarehouseID), '') <> '' THEN
                            SELECT w.WhseKey INTO v_line_whse FROM timWarehouse w
                            WHERE w.CompanyID = iCompanyID AND w.WhseID = l.WarehouseID;
                        END IF;
                        v_line_shipmeth := v_shipmeth;
                        IF coalesce(trim(l.ShipMethID), '') <> '' THEN
                            SELECT sm.ShipMethKey INTO v_line_shipmeth FROM tciShipMethod sm
                            WHERE sm.CompanyID = iCompanyID AND sm.ShipMethID = l.ShipMethID;
                        END IF;
                        v_glacct := NULL;
                        IF coalesce(trim(l.GLAcctNo), '') <> '' THEN
                            SELECT a.GLAcctKey INTO v_glacct FROM tglAccount a
                            WHERE a.CompanyID = iCompanyID AND a.GLAcctNo = replace(l.GLAcctNo, '-', '');
                        END IF;
                        INSERT INTO tsoSOLine (SOKey, SOLineNo, ItemKey, Description, UnitPrice, UnitMeasKey, Status,
                                               CmntOnly, ExtCmnt, UserFld1, UserFld2)
                        VALUES (v_sokey, l.SOLineNo, l.ItemKey, coalesce(nullif(l.Description, ''), l.ShortDesc),
                                l.UnitPrice, l.SalesUnitMeasKey, CASE WHEN v_status IN (3, 4) THEN 2 ELSE 1 END, 0,
                                l.ExtCmnt, l.UserFld1, l.UserFld2)
                        RETURNING SOLineKey INTO v_solinekey;
                        INSERT INTO tsoSOLineDist (SOLineKey, QtyOrd, OrigOrdered, QtyOnBO, ExtAmt, TradeDiscAmt,
                                                   FreightAmt, GLAcctKey, WhseKey, RequestDate, ShipToAddrKey,
                                                   ShipMethKey, Status)
                        VALUES (v_solinekey, l.QtyOrd, coalesce(l.OrigOrdered, l.QtyOrd), 0, v_ext,
                                coalesce(l.TradeDiscAmt, 0), coalesce(l.FreightAmt, 0), v_glacct, v_line_whse,
                                coalesce(l.RequestDate, h.DfltRequestDate), v_addr, v_line_shipmeth,
                                CASE WHEN v_status IN (3, 4) THEN 2 ELSE 1 END);
                    END LOOP;
                    UPDATE tsoSalesOrder SET SalesAmt = v_sales,
                           TranAmt = v_sales - TradeDiscAmt + FreightAmt + STaxAmt,
                           OpenAmt = CASE WHEN v_status IN (3, 4) THEN 0 ELSE v_sales - TradeDiscAmt + FreightAmt + STaxAmt END
                    WHERE SOKey = v_sokey;
                END IF;
            END IF;

            IF v_errs = 0 THEN
                DELETE FROM StgSOLine s WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
                DELETE FROM StgSalesOrder o WHERE o.RowKey = h.RowKey;
                oRecsProcessed := oRecsProcessed + 1;
                IF iRptOption IN (0, 2) THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, NULL, NULL, MIG_SUCCESS, 0::smallint,
                        CASE WHEN v_action = 2 THEN 'Sales order updated.' ELSE 'Sales order created.' END);
                END IF;
            ELSE
                UPDATE StgSOLine s SET ProcessStatus = 2 WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
                UPDATE StgSalesOrder o SET ProcessStatus = 2 WHERE o.RowKey = h.RowKey;
                oFailedRecs := oFailedRecs + 1;
            END IF;
          EXCEPTION WHEN OTHERS THEN
            -- An unexpected error on one order (e.g. a value too long) fails that order only.
            UPDATE StgSOLine s SET ProcessStatus = 2 WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
            UPDATE StgSalesOrder o SET ProcessStatus = 2 WHERE o.RowKey = h.RowKey;
            CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, NULL, NULL, MIG_FAILURE, 0::smallint,
                'Unexpected error: ' || SQLERRM);
            oFailedRecs := oFailedRecs + 1;
          END;
        END LOOP;

        IF EXISTS (SELECT 1 FROM StgSalesOrder o WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0) THEN
            oContinue := 1;
        END IF;
        _oRetVal := CASE WHEN oFailedRecs > 0 OR EXISTS (
                        SELECT 1 FROM StgSOLine s WHERE s.SessionKey = iSessionKey AND s.ProcessStatus = 2
                        AND NOT EXISTS (SELECT 1 FROM StgSalesOrder o WHERE o.SessionKey = iSessionKey AND o.TranNo = s.TranNo))
                    THEN 2 ELSE 1 END;
    EXCEPTION WHEN OTHERS THEN
        CALL spdmCreateMigrationLogEntry(iSessionKey, 'spSOapiSalesOrdIns', NULL, NULL, MIG_FAILURE, 0::smallint,
            'Unexpected error: ' || SQLERRM);
        _oRetVal := 0;
    END;
END $$;

-- GL posting --------------------------------------------------------------------------------------
-- Posts the tglPosting rows the caller inserted under iBatchKey (a key from
-- spGetNextSurrogateKey('tciBatchLog')): creates the tciBatchLog row, validates accounts, fiscal
-- periods and balance, then writes tglTransaction. oPostStatus: 1 posted, 2 posted with invalid accounts
-- sent to suspense, -3 invalid account, -5 closed or missing GL period, -7 debits <> credits.
-- oRetVal: 1 posted, 2 nothing to post, 0 refused. Reasons go to tciErrorLog (BatchKey).
CREATE OR REPLACE PROCEDURE spglAPIPostBatchlessGLPosting(
    iCompanyID varchar, iBatchKey int, iBatchCmnt varchar,
    OUT oBatchID varchar, OUT oPostStatus int, OUT oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_opts record;
    v_jrnl record;
    v_bad int := 0;
    v_status int := 1;
BEGIN
    oRetVal := 0; oPostStatus := 0;
    oBatchID := 'GL-' || lpad(iBatchKey::varchar, 7, '0');
    IF NOT EXISTS (SELECT 1 FROM tsmCompany c WHERE c.CompanyID = iCompanyID) THEN
        oPostStatus := -3;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM tciBatchLog b WHERE b.BatchKey = iBatchKey) THEN
        oRetVal := 2;  -- this batch was already processed
        SELECT b.PostStatus INTO oPostStatus FROM tciBatchLog b WHERE b.BatchKey = iBatchKey;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tglPosting p WHERE p.BatchKey = iBatchKey) THEN
        oRetVal := 2;
        RETURN;
    END IF;
    INSERT INTO tciBatchLog (BatchKey, CompanyID, BatchID, BatchType, SourceModuleNo, Status, PostStatus, PostDate, BatchCmnt)
    SELECT iBatchKey, iCompanyID, oBatchID, 101, 1, 1, 0, min(p.PostDate), left(iBatchCmnt, 50)
    FROM tglPosting p WHERE p.BatchKey = iBatchKey;

    -- Accounts
    SELECT o.SuspenseAcctKey, o.UseSuspenseAcct INTO v_opts FROM tglOptions o WHERE o.CompanyID = iCompanyID;
    FOR r IN SELECT p.PostingKey, p.GLAcctKey, a.GLAcctNo, a.Status, a.PostingType
             FROM tglPosting p LEFT JOIN tglAccount a ON a.GLAcctKey = p.GLAcctKey AND a.CompanyID = iCompanyID
             WHERE p.BatchKey = iBatchKey AND (a.GLAcctKey IS NULL OR a.Status <> 1 OR a.PostingType = 2)
    LOOP
        IF coalesce(v_opts.UseSuspenseAcct, 0) = 1 AND v_opts.SuspenseAcctKey IS NOT NULL THEN
            UPDATE tglPosting SET GLAcctKey = v_opts.SuspenseAcctKey WHERE PostingKey = r.PostingKey;
            INSERT INTO tciErrorLog (BatchKey, Severity, StringNo, StringData1, ErrorCmnt)
            VALUES (iBatchKey, 1, 2, r.GLAcctNo, 'Invalid GL account ' || coalesce(r.GLAcctNo, r.GLAcctKey::varchar)
                    || ' replaced by the suspense account.');
            v_status := 2;
        ELSE
            v_bad := v_bad + 1;
            INSERT INTO tciErrorLog (BatchKey, Severity, StringNo, StringData1, ErrorCmnt)
            VALUES (iBatchKey, 2, 1, coalesce(r.GLAcctNo, r.GLAcctKey::varchar),
                    CASE WHEN r.GLAcctKey IS NULL THEN 'GL account key ' || r.GLAcctKey || ' does not exist.'
                         WHEN r.Status <> 1 THEN 'GL account ' || r.GLAcctNo || ' is not active.'
                         ELSE 'GL account ' || r.GLAcctNo || ' is a statistical account.' END);
        END IF;
    END LOOP;
    IF v_bad > 0 THEN
        UPDATE tciBatchLog SET Status = 5, PostStatus = -3, UpdateDate = now() WHERE BatchKey = iBatchKey;
        oPostStatus := -3;
        RETURN;
    END IF;

    -- Fiscal periods
    FOR r IN SELECT DISTINCT p.PostDate, fp.FiscYear, fp.FiscPer, fp.Status
             FROM tglPosting p LEFT JOIN tglFiscalPeriod fp ON fp.CompanyID = iCompanyID
                  AND p.PostDate BETWEEN fp.StartDate AND fp.EndDate
             WHERE p.BatchKey = iBatchKey AND (fp.FiscPer IS NULL OR fp.Status <> 1)
    LOOP
        v_bad := v_bad + 1;
        INSERT INTO tciErrorLog (BatchKey, Severity, StringNo, StringData1, ErrorCmnt)
        VALUES (iBatchKey, 2, 5, r.PostDate::varchar,
                CASE WHEN r.FiscPer IS NULL THEN 'No fiscal period is defined for posting date ' || r.PostDate || '.'
                     ELSE 'Fiscal period ' || r.FiscYear || '-' || lpad(r.FiscPer::varchar, 2, '0')
                          || ' is closed; cannot post on ' || r.PostDate || '.' END);
    END LOOP;
    IF v_bad > 0 THEN
        UPDATE tciBatchLog SET Status = 5, PostStatus = -5, UpdateDate = now() WHERE BatchKey = iBatchKey;
        oPostStatus := -5;
        RETURN;
    END IF;

    -- Balance: per transaction in home currency, and per currency in natural currency
    FOR r IN SELECT 'HC'::varchar AS kind, coalesce(p.TranNo, '') AS k, sum(p.PostAmtHC) AS diff
             FROM tglPosting p WHERE p.BatchKey = iBatchKey GROUP BY coalesce(p.TranNo, '') HAVING sum(p.PostAmtHC) <> 0
             UNION ALL
             SELECT 'NC', p.CurrID, sum(p.PostAmt) FROM tglPosting p WHERE p.BatchKey = iBatchKey
             GROUP BY p.CurrID HAVING sum(p.PostAmt) <> 0
    LOOP
        v_bad := v_bad + 1;
        INSERT INTO tciErrorLog (BatchKey, Severity, StringNo, StringData1, StringData2, ErrorCmnt)
        VALUES (iBatchKey, 2, 7, r.k, r.diff::varchar,
                'Debits and Credits do not equal (' || CASE WHEN r.kind = 'HC' THEN 'home currency' ELSE r.k END
                || ' difference ' || r.diff || ').');
    END LOOP;
    IF v_bad > 0 THEN
        UPDATE tciBatchLog SET Status = 3, PostStatus = -7, UpdateDate = now() WHERE BatchKey = iBatchKey;
        oPostStatus := -7;
        RETURN;
    END IF;

    -- Post
    UPDATE tglJournal j SET NextJrnlNo = j.NextJrnlNo + 1
    WHERE j.CompanyID = iCompanyID AND j.JrnlID = 'GJ'
    RETURNING j.JrnlKey, j.NextJrnlNo - 1 AS JrnlNo INTO v_jrnl;
    UPDATE tglPosting SET JrnlKey = v_jrnl.JrnlKey, JrnlNo = v_jrnl.JrnlNo WHERE BatchKey = iBatchKey;
    INSERT INTO tglTransaction (AcctRefKey, BatchKey, CreateType, CurrExchRate, CurrID, ExtCmnt, FiscPer, FiscYear,
                                GLAcctKey, JrnlKey, JrnlNo, PostAmt, PostAmtHC, PostCmnt, PostDate, PostQty,
                                SourceModuleNo, TranDate, TranKey, TranNo, TranType)
    SELECT p.AcctRefKey, p.BatchKey, 1,
           CASE WHEN p.PostAmt <> 0 THEN round(p.PostAmtHC / p.PostAmt, 7) ELSE 1 END,
           p.CurrID, p.ExtCmnt, fp.FiscPer, fp.FiscYear, p.GLAcctKey, p.JrnlKey, p.JrnlNo, p.PostAmt, p.PostAmtHC,
           p.PostCmnt, p.PostDate, p.PostQty, p.SourceModuleNo, p.TranDate, p.TranKey, p.TranNo, p.TranType
    FROM tglPosting p JOIN tglFiscalPeriod fp ON fp.CompanyID = iCompanyID
         AND p.PostDate BETWEEN fp.StartDate AND fp.EndDate
    WHERE p.BatchKey = iBatchKey ORDER BY p.PostingKey;
    UPDATE tciBatchLog SET Status = 6, PostStatus = 500, UpdateDate = now() WHERE BatchKey = iBatchKey;
    oPostStatus := v_status;
    oRetVal := 1;
END $$;

-- What a Sage user does in Process Shipments: ship the open quantity of an order's lines (all, or
-- the given line numbers/quantities), with a ship method and tracking number. Used by the sandbox to
-- record merchant-fulfilled shipments "in Sage"; not called by the connector.
CREATE OR REPLACE PROCEDURE spsoSandboxShipOrder(iCompanyID varchar, iTranNo varchar, iShipMethID varchar,
                                                 iTrackingNo varchar, iShipDate date, iLineNos int[],
                                                 iQtys numeric[], OUT oShipTranNo varchar)
LANGUAGE plpgsql AS $$
DECLARE
    so record;
    l record;
    v_shipkey int;
    v_meth int;
    v_qty numeric;
    v_idx int;
    v_key int;
BEGIN
    SELECT s.SOKey, s.CustKey, s.DfltWhseKey, s.Status INTO so FROM tsoSalesOrder s
    WHERE s.CompanyID = iCompanyID AND s.TranType = 801 AND s.TranNo = iTranNo;
    IF so.SOKey IS NULL THEN
        RAISE EXCEPTION 'Sales order % does not exist', iTranNo;
    END IF;
    IF so.Status <> 1 THEN
        RAISE EXCEPTION 'Sales order % is not open (status %)', iTranNo, so.Status;
    END IF;
    SELECT m.ShipMethKey INTO v_meth FROM tciShipMethod m WHERE m.CompanyID = iCompanyID AND m.ShipMethID = iShipMethID;
    IF v_meth IS NULL THEN
        RAISE EXCEPTION 'Ship method % does not exist', iShipMethID;
    END IF;
    CALL spGetNextSurrogateKey('tsoShipment', v_key);
    oShipTranNo := lpad(v_key::varchar, 10, '0');
    INSERT INTO tsoShipment (CompanyID, TranNo, TranID, TranType, CustKey, ShipDate, ShipMethKey, WhseKey, TrackingNo,
                             CreateUserID)
    VALUES (iCompanyID, oShipTranNo, oShipTranNo || '-SH', 810, so.CustKey, iShipDate, v_meth, so.DfltWhseKey,
            iTrackingNo, 'shipping.clerk')
    RETURNING ShipKey INTO v_shipkey;
    FOR l IN SELECT sl.SOLineKey, sl.SOLineNo, sl.ItemKey, d.SOLineDistKey, d.QtyOrd - d.QtyShip AS OpenQty
             FROM tsoSOLine sl JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey
             WHERE sl.SOKey = so.SOKey AND d.QtyOrd > d.QtyShip ORDER BY sl.SOLineNo
    LOOP
        v_qty := l.OpenQty;
        IF iLineNos IS NOT NULL THEN
            v_idx := array_position(iLineNos, l.SOLineNo);
            CONTINUE WHEN v_idx IS NULL;
            v_qty := least(iQtys[v_idx], l.OpenQty);
        END IF;
        INSERT INTO tsoShipLine (ShipKey, SOLineKey, ItemKey, QtyShipped) VALUES (v_shipkey, l.SOLineKey, l.ItemKey, v_qty);
        UPDATE tsoSOLineDist SET QtyShip = QtyShip + v_qty, ShipDate = iShipDate,
               Status = CASE WHEN QtyShip + v_qty >= QtyOrd THEN 2 ELSE Status END
        WHERE SOLineDistKey = l.SOLineDistKey;
        UPDATE tsoSOLine SET Status = 2 WHERE SOLineKey = l.SOLineKey
          AND NOT EXISTS (SELECT 1 FROM tsoSOLineDist d WHERE d.SOLineKey = l.SOLineKey AND d.QtyShip < d.QtyOrd);
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM tsoShipLine x WHERE x.ShipKey = v_shipkey) THEN
        RAISE EXCEPTION 'Sales order % has nothing left to ship', iTranNo;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tsoSOLine sl WHERE sl.SOKey = so.SOKey AND sl.Status = 1) THEN
        UPDATE tsoSalesOrder SET Status = 4, OpenAmt = 0, UpdateDate = now() WHERE SOKey = so.SOKey;
    END IF;
END $$;

-- Inventory adjustment (IM TranType 710) of one item in one warehouse bin: the quantity on hand moves by iAdjQty
-- (signed), one timInvtTran row records it with its reason code. [UNCONFIRMED] name and parameters: no public
-- source documents Sage 500's IM adjustment API; the tables and the 710 type are Sage's. _oRetVal: 1 posted,
-- 2 refused (oMessage says why; nothing written), 3 bad parameters.
CREATE OR REPLACE PROCEDURE spimAPIInvtAdjIns(iCompanyID varchar, iWhseID varchar, iItemID varchar,
                                              iWhseBinID varchar, iAdjQty numeric, iReasonCodeID varchar,
                                              iTranDate date, iTranCmnt varchar, iUserID varchar,
                                              OUT oTranNo varchar, OUT oMessage varchar, OUT _oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    v_whse int;
    v_bin int;
    v_item record;
    v_reason int;
    v_onhand numeric;
    v_key int;
BEGIN
    IF iCompanyID IS NULL OR iWhseID IS NULL OR iItemID IS NULL OR iAdjQty IS NULL OR iTranDate IS NULL THEN
        oMessage := 'CompanyID, WhseID, ItemID, AdjQty and TranDate are required'; _oRetVal := 3; RETURN;
    END IF;
    IF iAdjQty = 0 THEN
        oMessage := 'Adjustment quantity must not be zero'; _oRetVal := 2; RETURN;
    END IF;
    SELECT WhseKey INTO v_whse FROM timWarehouse WHERE CompanyID = iCompanyID AND WhseID = iWhseID;
    IF v_whse IS NULL THEN
        oMessage := format('Invalid Warehouse ID ''%s''', iWhseID); _oRetVal := 2; RETURN;
    END IF;
    SELECT ItemKey, Status, StdUnitCost INTO v_item FROM timItem WHERE CompanyID = iCompanyID AND ItemID = iItemID;
    IF v_item.ItemKey IS NULL THEN
        oMessage := format('Invalid Item ID ''%s''', iItemID); _oRetVal := 2; RETURN;
    END IF;
    IF v_item.Status <> 1 THEN
        oMessage := format('Item ''%s'' is not active', iItemID); _oRetVal := 2; RETURN;
    END IF;
    IF iReasonCodeID IS NOT NULL AND iReasonCodeID <> '' THEN
        SELECT ReasonCodeKey INTO v_reason FROM tciReasonCode
        WHERE CompanyID = iCompanyID AND ReasonCodeID = iReasonCodeID AND (TranType IS NULL OR TranType = 710);
        IF v_reason IS NULL THEN
            oMessage := format('Invalid Reason Code ''%s''', iReasonCodeID); _oRetVal := 2; RETURN;
        END IF;
    END IF;
    SELECT WhseBinKey INTO v_bin FROM timWhseBin
    WHERE WhseKey = v_whse AND (iWhseBinID IS NULL OR iWhseBinID = '' OR WhseBinID = iWhseBinID)
    ORDER BY WhseBinKey LIMIT 1;
    IF v_bin IS NULL THEN
        oMessage := format('Invalid Bin ID ''%s'' in warehouse ''%s''', coalesce(iWhseBinID, ''), iWhseID);
        _oRetVal := 2; RETURN;
    END IF;
    SELECT QtyOnHand INTO v_onhand FROM timWhseBinInvt WHERE WhseBinKey = v_bin AND ItemKey = v_item.ItemKey
    FOR UPDATE;
    IF coalesce(v_onhand, 0) + iAdjQty < 0 THEN
        oMessage := format('Quantity on hand of ''%s'' in ''%s'' would be negative (%s on hand, %s adjusted)',
                           iItemID, iWhseID, coalesce(v_onhand, 0)::numeric(16,2), iAdjQty::numeric(16,2));
        _oRetVal := 2; RETURN;
    END IF;
    INSERT INTO timWhseBinInvt AS bi (WhseBinKey, ItemKey, QtyOnHand) VALUES (v_bin, v_item.ItemKey, iAdjQty)
    ON CONFLICT (WhseBinKey, ItemKey) DO UPDATE SET QtyOnHand = bi.QtyOnHand + iAdjQty;
    INSERT INTO timInventory (WhseKey, ItemKey) VALUES (v_whse, v_item.ItemKey) ON CONFLICT DO NOTHING;
    CALL spGetNextSurrogateKey('timInvtTran', v_key);
    oTranNo := lpad(v_key::varchar, 10, '0');
    INSERT INTO timInvtTran (CompanyID, TranNo, TranID, TranType, TranDate, WhseKey, WhseBinKey, ItemKey, TranQty,
                             UnitCost, ReasonCodeKey, TranCmnt, CreateUserID)
    VALUES (iCompanyID, oTranNo, oTranNo || '-IA', 710, iTranDate, v_whse, v_bin, v_item.ItemKey, iAdjQty,
            v_item.StdUnitCost, v_reason, left(iTranCmnt, 50), coalesce(iUserID, 'admin'));
    oMessage := 'OK';
    _oRetVal := 1;
END $$;

-- The parameter checks of an AR "api" import call: _oRetVal NULL to go on, 1 canceled, 3 bad parameters or a
-- required module inactive (logged). [UNCONFIRMED] a sandbox helper, not a Sage procedure.
CREATE OR REPLACE PROCEDURE spdmImportCallCheck(iCancel int, iSessionKey int, iCompanyID varchar, UseStageTable int,
                                                iModules int[], iModuleNames varchar, iEntityID varchar,
                                                OUT _oRetVal int)
LANGUAGE plpgsql AS $$
BEGIN
    _oRetVal := NULL;
    IF iSessionKey IS NULL OR iCompanyID IS NULL OR coalesce(UseStageTable, 1) <> 1
       OR NOT EXISTS (SELECT 1 FROM tsmCompany c WHERE c.CompanyID = iCompanyID) THEN
        _oRetVal := 3;
    ELSIF iCancel = 1 THEN
        _oRetVal := 1;
    ELSIF (SELECT count(*) FROM tsmCompanyModule m WHERE m.CompanyID = iCompanyID AND m.ModuleNo = ANY (iModules)
           AND m.Active = 1) < cardinality(iModules) THEN
        CALL spdmCreateMigrationLogEntry(iSessionKey, iEntityID, 'CompanyID', iCompanyID, 1::smallint, 0::smallint,
            'Modules ' || iModuleNames || ' must be active for company ' || iCompanyID || '.');
        _oRetVal := 3;
    END IF;
END $$;

-- AR invoice and credit memo import ---------------------------------------------------------------
-- [UNCONFIRMED] name, parameters and staging layout (schema.sql): Sage 500's Data Migration import pattern as
-- sage-erp.md documents it for spSOapiSalesOrdIns, applied to AR documents. Processes the session's StgARInvoice
-- rows with ProcessStatus 0 (and their StgARInvoiceLine rows by TranNo), up to MAX_ROWS_PER_RUN per call
-- (oContinue = 1 when rows remain). A valid document is POSTED: its GL entry (AR control against sales or sales
-- returns, freight and sales tax, by the customer class's accounts; home currency at tmcCurrExchRate's rate of the
-- day, the AR line absorbing rounding) through spglAPIPostBatchlessGLPosting (closed periods and bad accounts
-- refuse it), then tarInvoice / tarInvoiceDetl in that batch; a credit memo naming an invoice (ApplyToTranNo) is
-- applied to it (both balances reduced). Its staging rows are DELETED. An invalid one stays with ProcessStatus 2
-- and one tdmMigrationLogWrk row (Status 1, ColumnID = the offending column) per reason; nothing reaches AR or
-- the GL. _oRetVal: 1 all succeeded, 2 some failed, 3 bad parameters, 0 unexpected error.
CREATE OR REPLACE PROCEDURE spARapiInvoiceIns(
    iCancel int, iSessionKey int, iCompanyID varchar, iRptOption int, iPrintWarnings int, UseStageTable int,
    OUT oContinue int, OUT oRecsProcessed int, OUT oFailedRecs int, OUT oTotalRecs int, OUT _oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    MAX_ROWS_PER_RUN CONSTANT int := 500;
    MIG_FAILURE CONSTANT smallint := 1;
    h record;
    l record;
    v_cust record;
    v_class record;
    v_type int;
    v_errs int;
    v_curr varchar(3);
    v_home varchar(3);
    v_rate numeric;
    v_apply_key int;
    v_apply_bal numeric;
    v_sokey int;
    v_nlines int;
    v_lines numeric;
    v_disc numeric;
    v_total numeric;
    v_exp numeric;
    v_item record;
    v_sign int;
    v_batch int;
    v_hc numeric;
    v_invc int;
    v_applied numeric;
    v_gl_id varchar;
    v_gl_status int;
    v_gl_ret int;
    v_reason text;
BEGIN
    oContinue := 0; oRecsProcessed := 0; oFailedRecs := 0; oTotalRecs := 0;
    CALL spdmImportCallCheck(iCancel, iSessionKey, iCompanyID, UseStageTable, ARRAY[1, 2, 5], 'GL, CI and AR',
                             'StgARInvoice', _oRetVal);
    IF _oRetVal IS NOT NULL THEN  -- canceled (1) or bad parameters (3)
        RETURN;
    END IF;
    SELECT c.CurrID INTO v_home FROM tsmCompany c WHERE c.CompanyID = iCompanyID;

    FOR l IN SELECT s.RowKey, s.TranNo FROM StgARInvoiceLine s
             WHERE s.SessionKey = iSessionKey AND s.ProcessStatus = 0
               AND NOT EXISTS (SELECT 1 FROM StgARInvoice o WHERE o.SessionKey = iSessionKey AND o.TranNo = s.TranNo)
    LOOP
        CALL spdmCreateMigrationLogEntry(iSessionKey, 'StgARInvoiceLine', 'TranNo', l.TranNo, MIG_FAILURE, 0::smallint,
            'HDR REC MISSING: no StgARInvoice row with TranNo ''' || coalesce(l.TranNo, '') || ''' in this session.');
        UPDATE StgARInvoiceLine SET ProcessStatus = 2 WHERE RowKey = l.RowKey;
    END LOOP;

    SELECT count(*) INTO oTotalRecs FROM StgARInvoice o WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0;

    FOR h IN SELECT * FROM StgARInvoice o WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0
             ORDER BY o.RowKey LIMIT MAX_ROWS_PER_RUN
    LOOP
        v_errs := 0;
        BEGIN
            v_type := CASE h.TranType WHEN 'Invoice' THEN 501 WHEN 'Credit Memo' THEN 502 END;
            IF v_type IS NULL THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranType', h.TranType, MIG_FAILURE,
                    0::smallint, 'Invalid TranType ''' || coalesce(h.TranType, '') || ''' (Invoice or Credit Memo).');
                v_errs := v_errs + 1;
            END IF;
            IF coalesce(h.Action, 1) NOT IN (0, 1) THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'Action', h.Action::varchar, MIG_FAILURE,
                    0::smallint, 'Only inserts are supported for AR documents.');
                v_errs := v_errs + 1;
            END IF;
            IF coalesce(h.TranNo, '') = '' THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, '', 'TranNo', '', MIG_FAILURE, 0::smallint,
                    'TranNo is required.');
                v_errs := v_errs + 1;
            ELSIF EXISTS (SELECT 1 FROM tarInvoice i WHERE i.CompanyID = iCompanyID AND i.TranNo = h.TranNo
                          AND i.TranType = coalesce(v_type, 0)) THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranNo', h.TranNo, MIG_FAILURE, 1::smallint,
                    'Document ' || h.TranNo || ' already exists.');
                v_errs := v_errs + 1;
            END IF;
            IF h.TranDate IS NULL THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranDate', '', MIG_FAILURE, 0::smallint,
                    'TranDate is required.');
                v_errs := v_errs + 1;
            END IF;

            SELECT c.CustKey, c.Status, c.CustClassKey, a.CurrID INTO v_cust
            FROM tarCustomer c LEFT JOIN tarCustAddr a ON a.AddrKey = c.DfltBillToAddrKey
            WHERE c.CompanyID = iCompanyID AND c.CustID = h.CustID;
            v_curr := coalesce(nullif(h.CurrID, ''), v_cust.CurrID);
            IF v_cust.CustKey IS NULL OR v_cust.Status NOT IN (1, 3) THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CustID', h.CustID, MIG_FAILURE, 0::smallint,
                    'Invalid Customer ID ''' || coalesce(h.CustID, '') || '''.');
                v_errs := v_errs + 1;
            ELSE
                IF v_curr IS DISTINCT FROM v_cust.CurrID THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CurrID', h.CurrID, MIG_FAILURE,
                        0::smallint, 'Currency ' || coalesce(h.CurrID, '') || ' is not customer ' || h.CustID
                        || '''s currency (' || coalesce(v_cust.CurrID, '') || ').');
                    v_errs := v_errs + 1;
                END IF;
                SELECT k.* INTO v_class FROM tarCustClass k WHERE k.CustClassKey = v_cust.CustClassKey;
                IF v_class.ARAcctKey IS NULL
                   OR (v_type = 501 AND v_class.SalesAcctKey IS NULL)
                   OR (v_type = 502 AND v_class.SalesReturnAcctKey IS NULL)
                   OR (coalesce(h.FreightAmt, 0) <> 0 AND v_class.FreightAcctKey IS NULL)
                   OR (coalesce(h.STaxAmt, 0) <> 0 AND v_class.STaxAcctKey IS NULL) THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'GLAcctNo', '', MIG_FAILURE, 0::smallint,
                        'Customer class ' || coalesce(v_class.CustClassID, '?') || ' lacks a GL account for this '
                        || 'document (AR, sales, sales returns, freight or sales tax).');
                    v_errs := v_errs + 1;
                END IF;
            END IF;

            v_rate := NULL;
            IF v_curr = v_home THEN
                v_rate := 1;
            ELSIF v_curr IS NOT NULL AND h.TranDate IS NOT NULL THEN
                SELECT r.CurrExchRate INTO v_rate FROM tmcCurrExchRate r
                WHERE r.CurrExchSchdKey = 1 AND r.CurrID = v_curr AND r.EffectiveDate <= h.TranDate
                ORDER BY r.EffectiveDate DESC LIMIT 1;
            END IF;
            IF v_rate IS NULL AND v_curr IS NOT NULL AND h.TranDate IS NOT NULL THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'CurrID', v_curr, MIG_FAILURE, 0::smallint,
                    'No exchange rate for ' || v_curr || ' on ' || h.TranDate || '.');
                v_errs := v_errs + 1;
            END IF;

            v_apply_key := NULL; v_apply_bal := NULL;
            IF coalesce(h.ApplyToTranNo, '') <> '' THEN
                SELECT i.InvcKey, i.Balance INTO v_apply_key, v_apply_bal FROM tarInvoice i
                WHERE i.CompanyID = iCompanyID AND i.TranType = 501 AND i.TranNo = h.ApplyToTranNo
                  AND i.CustKey = v_cust.CustKey;
                IF v_type IS DISTINCT FROM 502 OR v_apply_key IS NULL THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ApplyToTranNo', h.ApplyToTranNo,
                        MIG_FAILURE, 0::smallint,
                        CASE WHEN v_type IS DISTINCT FROM 502 THEN 'Only a credit memo applies to an invoice.'
                             ELSE 'Apply-to invoice ' || h.ApplyToTranNo || ' does not exist for customer '
                                  || coalesce(h.CustID, '') || '.' END);
                    v_errs := v_errs + 1;
                END IF;
            END IF;
            v_sokey := NULL;
            IF coalesce(h.SOTranNo, '') <> '' THEN
                SELECT so.SOKey INTO v_sokey FROM tsoSalesOrder so
                WHERE so.CompanyID = iCompanyID AND so.TranNo = h.SOTranNo AND so.CustKey = v_cust.CustKey;
                IF v_sokey IS NULL THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'SOTranNo', h.SOTranNo, MIG_FAILURE,
                        0::smallint, 'Sales order ' || h.SOTranNo || ' does not exist for customer '
                        || coalesce(h.CustID, '') || '.');
                    v_errs := v_errs + 1;
                END IF;
            END IF;
            IF coalesce(h.FreightAmt, 0) < 0 OR coalesce(h.STaxAmt, 0) < 0 THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo,
                    CASE WHEN coalesce(h.FreightAmt, 0) < 0 THEN 'FreightAmt' ELSE 'STaxAmt' END,
                    least(coalesce(h.FreightAmt, 0), coalesce(h.STaxAmt, 0))::varchar, MIG_FAILURE, 0::smallint,
                    'Freight and sales tax amounts must not be negative.');
                v_errs := v_errs + 1;
            END IF;

            SELECT count(*) INTO v_nlines FROM StgARInvoiceLine s
            WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
            IF v_nlines = 0 THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranNo', h.TranNo, MIG_FAILURE, 0::smallint,
                    'Document ''' || coalesce(h.TranNo, '') || ''' has no StgARInvoiceLine rows.');
                v_errs := v_errs + 1;
            END IF;
            v_lines := 0; v_disc := 0;
            FOR l IN SELECT s.*, count(*) OVER (PARTITION BY s.SeqNo) AS SameNo FROM StgARInvoiceLine s
                     WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo ORDER BY s.SeqNo, s.RowKey
            LOOP
                IF l.SameNo > 1 THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'SeqNo', l.SeqNo::varchar, MIG_FAILURE,
                        0::smallint, 'Duplicate SeqNo ' || l.SeqNo || '.');
                    v_errs := v_errs + 1;
                END IF;
                SELECT i.ItemKey, i.Status INTO v_item FROM timItem i
                WHERE i.CompanyID = iCompanyID AND i.ItemID = l.ItemID;
                IF v_item.ItemKey IS NULL OR v_item.Status <> 1 THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ItemID', l.ItemID, MIG_FAILURE,
                        0::smallint, 'Invalid Item ID ''' || coalesce(l.ItemID, '') || '''.');
                    v_errs := v_errs + 1;
                END IF;
                IF coalesce(l.Qty, 0) <= 0 OR coalesce(l.UnitPrice, -1) < 0 THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo,
                        CASE WHEN coalesce(l.Qty, 0) <= 0 THEN 'Qty' ELSE 'UnitPrice' END,
                        coalesce(l.Qty, 0)::varchar || ' x ' || coalesce(l.UnitPrice, 0)::varchar, MIG_FAILURE,
                        0::smallint, 'Line ' || coalesce(l.SeqNo, 0) || ': Qty must be > 0 and UnitPrice >= 0.');
                    v_errs := v_errs + 1;
                END IF;
                v_exp := round(coalesce(l.Qty, 0) * coalesce(l.UnitPrice, 0), 2) - coalesce(l.TradeDiscAmt, 0);
                IF coalesce(l.TradeDiscAmt, 0) < 0 OR v_exp < 0 THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TradeDiscAmt', l.TradeDiscAmt::varchar,
                        MIG_FAILURE, 0::smallint, 'Line ' || coalesce(l.SeqNo, 0)
                        || ': trade discount is outside 0 .. the line amount.');
                    v_errs := v_errs + 1;
                ELSIF l.ExtAmt IS DISTINCT FROM v_exp THEN
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'ExtAmt', coalesce(l.ExtAmt::varchar, ''),
                        MIG_FAILURE, 0::smallint, 'Line ' || coalesce(l.SeqNo, 0) || ': ExtAmt '
                        || coalesce(l.ExtAmt::varchar, 'NULL') || ' does not equal Qty x UnitPrice - TradeDiscAmt ('
                        || v_exp || ').');
                    v_errs := v_errs + 1;
                END IF;
                v_lines := v_lines + coalesce(l.ExtAmt, 0);
                v_disc := v_disc + coalesce(l.TradeDiscAmt, 0);
            END LOOP;
            v_total := v_lines + coalesce(h.FreightAmt, 0) + coalesce(h.STaxAmt, 0);
            IF h.TranAmt IS DISTINCT FROM v_total OR v_total <= 0 THEN
                CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo, 'TranAmt', coalesce(h.TranAmt::varchar, ''),
                    MIG_FAILURE, 0::smallint,
                    CASE WHEN v_total <= 0 THEN 'A document must have a positive total.'
                         ELSE 'TranAmt ' || coalesce(h.TranAmt::varchar, 'NULL')
                              || ' does not equal lines + freight + sales tax (' || v_total || ').' END);
                v_errs := v_errs + 1;
            END IF;

            IF v_errs = 0 THEN  -- post: the GL entry first (a closed period or a bad account refuses the document)
                v_sign := CASE v_type WHEN 501 THEN 1 ELSE -1 END;  -- the AR control: debit for an invoice
                CALL spGetNextSurrogateKey('tciBatchLog', v_batch);
                INSERT INTO tglPosting (BatchKey, CurrID, ExtCmnt, GLAcctKey, PostAmt, PostAmtHC, PostCmnt, PostDate,
                                        TranDate, SourceModuleNo, TranNo, TranType)
                SELECT v_batch, v_curr, h.TranCmnt, x.acct, -v_sign * x.amt, round(-v_sign * x.amt * v_rate, 2),
                       left(x.what || ' ' || h.TranNo, 50), h.TranDate, h.TranDate, 5, h.TranNo, v_type
                FROM (VALUES (CASE v_type WHEN 501 THEN v_class.SalesAcctKey ELSE v_class.SalesReturnAcctKey END,
                              v_lines, CASE v_type WHEN 501 THEN 'Sales' ELSE 'Sales returns' END),
                             (v_class.FreightAcctKey, coalesce(h.FreightAmt, 0), 'Freight'),
                             (v_class.STaxAcctKey, coalesce(h.STaxAmt, 0), 'Sales tax')) AS x(acct, amt, what)
                WHERE x.amt <> 0;
                SELECT coalesce(sum(p.PostAmtHC), 0) INTO v_hc FROM tglPosting p WHERE p.BatchKey = v_batch;
                INSERT INTO tglPosting (BatchKey, CurrID, ExtCmnt, GLAcctKey, PostAmt, PostAmtHC, PostCmnt, PostDate,
                                        TranDate, SourceModuleNo, TranNo, TranType)
                VALUES (v_batch, v_curr, h.TranCmnt, v_class.ARAcctKey, v_sign * v_total, -v_hc,
                        left('AR ' || h.CustID || ' ' || h.TranNo, 50), h.TranDate, h.TranDate, 5, h.TranNo, v_type);
                CALL spglAPIPostBatchlessGLPosting(iCompanyID, v_batch, left(coalesce(h.TranCmnt, h.TranNo), 50),
                                                   v_gl_id, v_gl_status, v_gl_ret);
                IF v_gl_ret <> 1 THEN
                    SELECT string_agg(e.ErrorCmnt, ' ' ORDER BY e.ErrorLogKey) INTO v_reason FROM tciErrorLog e
                    WHERE e.BatchKey = v_batch AND e.Severity = 2;
                    CALL spdmCreateMigrationLogEntry(iSessionKey, h.TranNo,
                        CASE v_gl_status WHEN -5 THEN 'TranDate' WHEN -3 THEN 'GLAcctNo' ELSE 'TranAmt' END,
                        h.TranDate::varchar, MIG_FAILURE, 0::smallint,
                        'GL posting refused: ' || coalesce(v_reason, 'PostStatus ' || v_gl_status));
                    v_errs := v_errs + 1;
                ELSE
                    UPDATE tciBatchLog SET BatchType = v_type, SourceModuleNo = 5 WHERE BatchKey = v_batch;
                    INSERT INTO tarInvoice (CompanyID, TranNo, TranID, TranType, CustKey, TranDate, CurrID, SalesAmt,
                                            TradeDiscAmt, FreightAmt, STaxAmt, TranAmt, Balance, CustPONo, TranCmnt,
                                            Status, ApplyToInvcKey, SOKey, BatchKey)
                    VALUES (iCompanyID, h.TranNo, h.TranNo || CASE v_type WHEN 501 THEN '-IN' ELSE '-CM' END, v_type,
                            v_cust.CustKey, h.TranDate, v_curr, v_lines, v_disc, coalesce(h.FreightAmt, 0),
                            coalesce(h.STaxAmt, 0), v_total, v_total, h.CustPONo, h.TranCmnt, 1, v_apply_key, v_sokey,
                            v_batch)
                    RETURNING InvcKey INTO v_invc;
                    INSERT INTO tarInvoiceDetl (InvcKey, SeqNo, ItemKey, Description, QtyShipped, UnitPrice,
                                                TradeDiscAmt, ExtAmt)
                    SELECT v_invc, s.SeqNo, i.ItemKey, s.Description, s.Qty, s.UnitPrice, coalesce(s.TradeDiscAmt, 0),
                           s.ExtAmt
                    FROM StgARInvoiceLine s JOIN timItem i ON i.CompanyID = iCompanyID AND i.ItemID = s.ItemID
                    WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo ORDER BY s.SeqNo;
                    UPDATE tglPosting SET TranKey = v_invc WHERE BatchKey = v_batch;
                    UPDATE tglTransaction SET TranKey = v_invc WHERE BatchKey = v_batch;
                    IF v_apply_key IS NOT NULL THEN
                        v_applied := least(v_total, greatest(v_apply_bal, 0));
                        UPDATE tarInvoice SET Balance = Balance - v_applied WHERE InvcKey IN (v_apply_key, v_invc);
                        IF v_applied > 0 THEN
                            INSERT INTO tarCustPmtAppl (CompanyID, ApplyFromInvcKey, ApplyToInvcKey, ApplyAmt, ApplyDate)
                            VALUES (iCompanyID, v_invc, v_apply_key, v_applied, h.TranDate);
                        END IF;
                    END IF;
                    DELETE FROM StgARInvoiceLine s WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
                    DELETE FROM StgARInvoice o WHERE o.RowKey = h.RowKey;
                    oRecsProcessed := oRecsProcessed + 1;
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            CALL spdmCreateMigrationLogEntry(iSessionKey, coalesce(h.TranNo, ''), '', '', MIG_FAILURE, 0::smallint,
                'Unexpected error: ' || SQLERRM);
            v_errs := v_errs + 1;
        END;
        IF v_errs > 0 THEN
            UPDATE StgARInvoiceLine s SET ProcessStatus = 2 WHERE s.SessionKey = iSessionKey AND s.TranNo = h.TranNo;
            UPDATE StgARInvoice o SET ProcessStatus = 2 WHERE o.RowKey = h.RowKey;
            oFailedRecs := oFailedRecs + 1;
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM StgARInvoice o WHERE o.SessionKey = iSessionKey AND o.ProcessStatus = 0) THEN
        oContinue := 1;
    END IF;
    _oRetVal := CASE WHEN oFailedRecs > 0 THEN 2 ELSE 1 END;
END $$;

-- Application of a posted credit memo to a posted invoice or debit memo of the same customer and currency (what a
-- user does in "Apply Payments and Memos"): applies least(iApplyAmt, both open balances), records it in
-- tarCustPmtAppl and lowers both balances; no GL entry (both documents are posted). The memo's ApplyToInvcKey names
-- the first document it was applied to. _oRetVal: 1 applied (oAppliedAmt), 2 refused or nothing open (oMessage
-- says why, nothing written). [UNCONFIRMED] name and parameters: no public source documents Sage 500's AR
-- application API.
CREATE OR REPLACE PROCEDURE spARapiApplyMemo(iCompanyID varchar, iApplyFromInvcKey int, iApplyToInvcKey int,
                                             iApplyAmt numeric, iApplyDate date,
                                             OUT oAppliedAmt numeric, OUT oMessage varchar, OUT _oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    f record;
    t record;
BEGIN
    oAppliedAmt := 0; _oRetVal := 2;
    SELECT i.InvcKey, i.CustKey, i.CurrID, i.TranType, i.Balance, i.Status INTO f FROM tarInvoice i
    WHERE i.CompanyID = iCompanyID AND i.InvcKey = iApplyFromInvcKey FOR UPDATE;
    SELECT i.InvcKey, i.CustKey, i.CurrID, i.TranType, i.Balance, i.Status INTO t FROM tarInvoice i
    WHERE i.CompanyID = iCompanyID AND i.InvcKey = iApplyToInvcKey FOR UPDATE;
    IF f.InvcKey IS NULL OR t.InvcKey IS NULL THEN
        oMessage := 'Document ' || coalesce(iApplyFromInvcKey, iApplyToInvcKey)::varchar || ' does not exist.'; RETURN;
    ELSIF f.TranType <> 502 THEN
        oMessage := 'Only a credit memo can be applied.'; RETURN;
    ELSIF t.TranType NOT IN (501, 503) THEN
        oMessage := 'A credit memo applies to an invoice or a debit memo.'; RETURN;
    ELSIF f.CustKey <> t.CustKey OR f.CurrID <> t.CurrID THEN
        oMessage := 'Both documents must belong to the same customer, in the same currency.'; RETURN;
    ELSIF f.Status <> 1 OR t.Status <> 1 THEN
        oMessage := 'Both documents must be posted.'; RETURN;
    ELSIF iApplyAmt IS NULL OR iApplyAmt <= 0 OR iApplyDate IS NULL THEN
        oMessage := 'The amount applied must be positive, with an application date.'; RETURN;
    END IF;
    oAppliedAmt := least(iApplyAmt, f.Balance, t.Balance);
    IF oAppliedAmt <= 0 THEN
        oAppliedAmt := 0; oMessage := 'Nothing open to apply.'; RETURN;
    END IF;
    INSERT INTO tarCustPmtAppl (CompanyID, ApplyFromInvcKey, ApplyToInvcKey, ApplyAmt, ApplyDate)
    VALUES (iCompanyID, f.InvcKey, t.InvcKey, oAppliedAmt, iApplyDate);
    UPDATE tarInvoice SET Balance = Balance - oAppliedAmt WHERE InvcKey IN (f.InvcKey, t.InvcKey);
    UPDATE tarInvoice SET ApplyToInvcKey = t.InvcKey WHERE InvcKey = f.InvcKey AND ApplyToInvcKey IS NULL;
    oMessage := 'OK'; _oRetVal := 1;
END $$;

-- SO invoicing, what Sage's "Create Invoices" + "Process Invoices" do for shipped sales-order lines: per open or
-- closed sales order (all, or iSOTranNo) with quantities shipped and not invoiced, one AR invoice (TranType 501,
-- CustPONo and SOKey of the order) for those quantities at the order's unit price, its trade discount in
-- proportion (the last invoice takes the rest), the order's freight and sales tax on its first invoice; imported
-- and POSTED through spARapiInvoiceIns (GL: AR control against sales, freight, sales tax through
-- spglAPIPostBatchlessGLPosting), then tsoSOLineDist.QtyInvcd moves up. Orders flagged not to be invoiced
-- (UserFld3 FULFILONLY, revenue: settlement) and canceled orders are left alone. A refused invoice (closed
-- period, ...) stays in StgARInvoice with ProcessStatus 2 and its tdmMigrationLogWrk reasons; its lines stay
-- uninvoiced. _oRetVal: 1 all invoiced, 2 some refused. [UNCONFIRMED] a sandbox procedure standing for Sage's
-- invoicing tasks (real Sage 500 runs them from the SO and AR menus, not through a documented API).
CREATE OR REPLACE PROCEDURE spsoCreateInvoices(iCompanyID varchar, iInvoiceDate date, iSOTranNo varchar,
                                               OUT oInvoices int, OUT oFailed int, OUT _oRetVal int)
LANGUAGE plpgsql AS $$
DECLARE
    so record;
    l record;
    v_session int;
    v_key int;
    v_tranno varchar(10);
    v_first boolean;
    v_lines numeric;
    v_disc numeric;
    v_frt numeric;
    v_tax numeric;
    v_cont int;
    v_proc int;
    v_fail int;
    v_total int;
    v_ret int;
BEGIN
    oInvoices := 0; oFailed := 0;
    FOR so IN SELECT s.SOKey, s.TranNo, s.CustPONo, s.CurrID, s.FreightAmt, s.STaxAmt, c.CustID
              FROM tsoSalesOrder s JOIN tarCustomer c ON c.CustKey = s.CustKey
              WHERE s.CompanyID = iCompanyID AND s.TranType = 801 AND s.Status <> 3
                AND coalesce(s.UserFld3, '') <> 'FULFILONLY' AND (iSOTranNo IS NULL OR s.TranNo = iSOTranNo)
                AND EXISTS (SELECT 1 FROM tsoSOLine sl JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey
                            WHERE sl.SOKey = s.SOKey AND d.QtyShip > d.QtyInvcd)
              ORDER BY s.SOKey
    LOOP
        CALL spGetNextSurrogateKey('tdmMigrationLogWrk', v_session);
        CALL spGetNextSurrogateKey('tarInvoice', v_key);
        v_tranno := lpad(v_key::varchar, 10, '0');
        v_first := NOT EXISTS (SELECT 1 FROM tarInvoice i WHERE i.SOKey = so.SOKey AND i.TranType = 501);
        v_lines := 0;
        FOR l IN SELECT sl.SOLineNo, i.ItemID, sl.Description, sl.UnitPrice, d.QtyOrd, d.QtyShip, d.QtyInvcd,
                        d.TradeDiscAmt
                 FROM tsoSOLine sl JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey
                 JOIN timItem i ON i.ItemKey = sl.ItemKey
                 WHERE sl.SOKey = so.SOKey AND d.QtyShip > d.QtyInvcd ORDER BY sl.SOLineNo
        LOOP
            v_disc := CASE WHEN l.QtyShip >= l.QtyOrd THEN l.TradeDiscAmt
                           ELSE round(l.TradeDiscAmt * l.QtyShip / l.QtyOrd, 2) END
                    - CASE WHEN l.QtyInvcd >= l.QtyOrd THEN l.TradeDiscAmt
                           ELSE round(l.TradeDiscAmt * l.QtyInvcd / l.QtyOrd, 2) END;
            INSERT INTO StgARInvoiceLine (SessionKey, ProcessStatus, TranNo, SeqNo, ItemID, Description, Qty, UnitPrice,
                                          TradeDiscAmt, ExtAmt)
            VALUES (v_session, 0, v_tranno, l.SOLineNo, l.ItemID, l.Description, l.QtyShip - l.QtyInvcd, l.UnitPrice,
                    v_disc, round((l.QtyShip - l.QtyInvcd) * l.UnitPrice, 2) - v_disc);
            v_lines := v_lines + round((l.QtyShip - l.QtyInvcd) * l.UnitPrice, 2) - v_disc;
        END LOOP;
        v_frt := CASE WHEN v_first THEN so.FreightAmt ELSE 0 END;
        v_tax := CASE WHEN v_first THEN so.STaxAmt ELSE 0 END;
        INSERT INTO StgARInvoice (SessionKey, ProcessStatus, Action, TranNo, TranType, CustID, CurrID, TranDate,
                                  CustPONo, TranCmnt, SOTranNo, FreightAmt, STaxAmt, TranAmt)
        VALUES (v_session, 0, 1, v_tranno, 'Invoice', so.CustID, so.CurrID, iInvoiceDate, so.CustPONo,
                'Invoice of sales order ' || so.TranNo, so.TranNo, v_frt, v_tax, v_lines + v_frt + v_tax);
        CALL spARapiInvoiceIns(0, v_session, iCompanyID, 3, 0, 1, v_cont, v_proc, v_fail, v_total, v_ret);
        IF v_proc = 1 THEN
            UPDATE tsoSOLineDist d SET QtyInvcd = d.QtyShip FROM tsoSOLine sl
            WHERE sl.SOLineKey = d.SOLineKey AND sl.SOKey = so.SOKey AND d.QtyShip > d.QtyInvcd;
            oInvoices := oInvoices + 1;
        ELSE
            oFailed := oFailed + 1;
        END IF;
    END LOOP;
    _oRetVal := CASE WHEN oFailed > 0 THEN 2 ELSE 1 END;
END $$;

CREATE TABLE IF NOT EXISTS tiktok_rate_slots (
    app text NOT NULL,
    endpoint text NOT NULL,
    slot_id bigint GENERATED ALWAYS AS IDENTITY,
    holder text NOT NULL,
    acquired_at timestamptz NOT NULL,
    lease_ends_at timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (app, endpoint, slot_id)
);
CREATE SEQUENCE IF NOT EXISTS tiktok_rate_tickets;
CREATE TABLE IF NOT EXISTS tiktok_rate_waiters (
    app text NOT NULL,
    endpoint text NOT NULL,
    ticket bigint NOT NULL DEFAULT nextval('tiktok_rate_tickets'),
    holder text NOT NULL,
    waiting_since timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (app, endpoint, ticket)
);
CREATE TABLE IF NOT EXISTS tiktok_rate_pauses (
    app text NOT NULL,
    endpoint text NOT NULL,
    blocked_until timestamptz NOT NULL,
    PRIMARY KEY (app, endpoint)
);
-- One attempt to take a slot of (p_app, p_endpoint), in one round trip and one transaction.
-- Returns the new slot's id; or the seconds to wait before the next attempt, the caller's
-- ticket (its place in the queue, to pass back) and why it waits.
CREATE OR REPLACE FUNCTION tiktok_rate_acquire(
    p_app text,
    p_endpoint text,
    p_limit integer,
    p_window double precision,
    p_lease double precision,
    p_holder text,
    p_ticket bigint,
    p_grace double precision
) RETURNS TABLE (slot_id bigint, wait double precision, ticket bigint, reason text)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz;
    v_window interval := make_interval(secs => p_window);
    v_paused timestamptz;
    v_counted integer;
    v_ahead integer;
    v_need integer;
    v_free_at timestamptz;
    v_slot bigint;
    v_wait double precision;
    v_reason text;
    v_ticket bigint;
BEGIN
    -- budget rows live for a minute: not worth a WAL flush per request (a server crash
    -- can lose only the last few hundred milliseconds of them)
    PERFORM set_config('synchronous_commit', 'off', true);
    -- admissions to one endpoint are serialised; each statement below sees every commit
    -- made before the lock was granted
    PERFORM pg_advisory_xact_lock(
        hashtextextended('tiktok_etl:rate:' || p_app || ':' || p_endpoint, 0));
    v_now := clock_timestamp();
    -- a slot counts until its answer is back (or its lease ends), then for one window
    DELETE FROM tiktok_rate_slots s
     WHERE s.app = p_app AND s.endpoint = p_endpoint
       AND coalesce(s.completed_at, s.lease_ends_at) <= v_now - v_window;
    DELETE FROM tiktok_rate_waiters w
     WHERE w.app = p_app AND w.endpoint = p_endpoint AND w.expires_at <= v_now;
    SELECT p.blocked_until INTO v_paused FROM tiktok_rate_pauses p
     WHERE p.app = p_app AND p.endpoint = p_endpoint;
    SELECT count(*) INTO v_counted FROM tiktok_rate_slots s
     WHERE s.app = p_app AND s.endpoint = p_endpoint;
    SELECT count(*) INTO v_ahead FROM tiktok_rate_waiters w
     WHERE w.app = p_app AND w.endpoint = p_endpoint
       AND (p_ticket IS NULL OR w.ticket < p_ticket);
    -- counted slots that must leave the window before this caller may go
    v_need := v_counted + v_ahead + 1 - p_limit;
    IF v_paused > v_now THEN
        v_wait := extract(epoch FROM v_paused - v_now);
        v_reason := 'paused';
    ELSIF v_need <= 0 THEN
        INSERT INTO tiktok_rate_slots AS s (app, endpoint, holder, acquired_at, lease_ends_at)
        VALUES (p_app, p_endpoint, p_holder, v_now, v_now + make_interval(secs => p_lease))
        RETURNING s.slot_id INTO v_slot;
        IF p_ticket IS NOT NULL THEN
            DELETE FROM tiktok_rate_waiters w
             WHERE w.app = p_app AND w.endpoint = p_endpoint AND w.ticket = p_ticket;
        END IF;
        RETURN QUERY SELECT v_slot, NULL::double precision, NULL::bigint, NULL::text;
        RETURN;
    ELSE
        -- completions to come are stamped later than every completion so far, so the
        -- v_need-th stamp is either known now or at least `now`
        SELECT coalesce(s.completed_at, s.lease_ends_at) INTO v_free_at
          FROM tiktok_rate_slots s
         WHERE s.app = p_app AND s.endpoint = p_endpoint
           AND (s.completed_at IS NOT NULL OR s.lease_ends_at <= v_now)
         ORDER BY 1
        OFFSET v_need - 1 LIMIT 1;
        v_wait := greatest(extract(epoch FROM coalesce(v_free_at, v_now) + v_window - v_now), 0);
        v_reason := 'budget';
    END IF;
    INSERT INTO tiktok_rate_waiters AS w (app, endpoint, ticket, holder, waiting_since, expires_at)
    VALUES (p_app, p_endpoint, coalesce(p_ticket, nextval('tiktok_rate_tickets')), p_holder,
            v_now, v_now + make_interval(secs => v_wait + p_grace))
    ON CONFLICT ON CONSTRAINT tiktok_rate_waiters_pkey
    DO UPDATE SET expires_at = excluded.expires_at
    RETURNING w.ticket INTO v_ticket;
    RETURN QUERY SELECT NULL::bigint, v_wait, v_ticket, v_reason;
END;
$$;
-- Record that a slot's answer is back: it counts for one window from now.
CREATE OR REPLACE FUNCTION tiktok_rate_release(p_app text, p_endpoint text, p_slot_id bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE tiktok_rate_slots s SET completed_at = greatest(clock_timestamp(), s.acquired_at)
     WHERE s.app = p_app AND s.endpoint = p_endpoint AND s.slot_id = p_slot_id
       AND s.completed_at IS NULL;
END;
$$;

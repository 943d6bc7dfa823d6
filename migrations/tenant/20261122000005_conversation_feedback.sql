-- The widget's queue position and wait estimate, and satisfaction ratings (F10).

alter table conversations
    -- When an agent first took the conversation (the wait a queue estimate is made of).
    add column assigned_at timestamptz,
    add column rating smallint check (rating between 1 and 5),
    add column rating_comment text check (length(rating_comment) <= 4000),
    add column rated_at timestamptz;

-- The queue: open conversations nobody has taken, oldest first.
create index conversations_waiting_idx on conversations (created_at) where status = 'open' and assignee is null;
-- Recent first assignments, for the wait estimate.
create index conversations_assigned_idx on conversations (assigned_at) where assigned_at is not null;

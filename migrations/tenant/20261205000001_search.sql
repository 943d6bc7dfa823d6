-- Searching a tenant's history (issue 15, docs/search.md). Each message becomes one row of
-- `search_docs` after its commit: its terms as a tsvector (CJK characters and their bigrams,
-- stemmed English words, built by the api's tokenizer), with the conversation and time copied
-- so that a search can filter and order without reading `messages`. New messages are queued in
-- `search_pending` by a statement trigger in the inserting transaction; the indexer drains it.
-- Both tables follow their message when it is deleted (retention, erasure).
create table search_docs (
    message_id uuid primary key references messages (id) on delete cascade,
    conversation_id uuid not null,
    created_at timestamptz not null,
    doc tsvector not null
);
create index search_docs_doc on search_docs using gin (doc);
create index search_docs_created on search_docs (created_at desc, message_id desc);
create index search_docs_conversation on search_docs (conversation_id);

create table search_pending (
    message_id uuid primary key references messages (id) on delete cascade
);

create trigger messages_search_enqueue after insert on messages
    referencing new table as inserted
    for each statement execute function kefu.search_enqueue_v1();

-- Every message stored so far is indexed by the indexer, not by this migration (migrations of
-- many tenants stay fast): queue them, and mark the tenant when there is anything to do.
insert into search_pending (message_id) select id from messages;

-- Filtering searches and exports by time without reading every message.
create index messages_created_idx on messages (created_at);
insert into kefu.search_dirty (tenant_id, txid)
    select substr(current_schema(), 3)::uuid, pg_current_xact_id() where exists (select 1 from search_pending);

// Package cache stores MTA-STS policies for senders (RFC 8461 §5.1, §10.2)
// and the short-lived negative answers a sender keeps alongside them
// (§3.3): one [Cache] interface, four backends, chosen by URL with [Open].
//
// A sender caches a domain's policy for the policy's max_age and keeps
// using it while it is unexpired, even when the domain's TXT record
// disappears or a new policy cannot be fetched (§5.1). An [Entry] therefore
// holds the policy text with its TXT id, when it was fetched, when it
// expires, when its id was last compared with DNS and when it is due for a
// proactive refresh (§10.2). A [Negative] remembers for a few minutes that
// a domain has no MTA-STS record, or that fetching the policy of one id
// failed, so that a sender neither asks again for every message nor
// retries a failed fetch sooner than RFC 8461 §3.3 allows.
//
// # Backends
//
//	memory:                            in-process LRU (NewMemory); lost on exit
//	memory:?size=50000                 with a bound on the number of domains
//	sqlite:///var/lib/mtasts/cache.db  SQLite file (the default; survives restarts)
//	sqlite:cache.db                    the same, relative to the working directory
//	redis://host:6379/0                Redis, shared by many MTAs; rediss:// for TLS
//	redis://host/0?prefix=mta1:        with another key prefix (default "mtasts:")
//	postgres://user@host/db            PostgreSQL, shared by many MTAs
//
// Redis keeps each entry under a key that expires with the policy. SQLite
// and PostgreSQL keep the tables mtasts_policy and mtasts_negative, created
// on first use, and purge expired rows when asked for the policies due.
// Open does not contact a shared backend; use [Pinger] to check it.
//
// Every backend but memory is put behind an in-process memory layer
// ([Layered]): lookups are answered from memory, writes go to both, and
// when the shared backend is down the layer keeps answering with what it
// holds. A cached policy is never forgotten because the backend failed, so
// a sender never answers less strictly than the policy it cached.
//
// Besides policies, every backend keeps operators' overrides
// ([OverrideStore]) and when each domain was last looked up
// ([UsageStore]); a Layered cache keeps both in its shared backend only,
// so that all processes sharing it see the same. [Lister] lists and
// purges the policies. SQL backends use the tables mtasts_override and
// mtasts_used; Redis the hash <prefix>overrides and the sorted set
// <prefix>used.
//
// Times are kept to the nanosecond and returned in UTC. Every backend
// forgets entries once they expire; Get never returns an expired entry.
package cache

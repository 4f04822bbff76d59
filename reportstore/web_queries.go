package reportstore

import "context"

// Queries for the dashboard (package web) beyond the query API of
// query.go.

// Version identifies the state of the stored reports: it changes when a
// report is added or removed, so that a reader may keep what it computed
// from them until then. Duplicates and the quarantine do not change it.
type Version struct {
	// LastID is the highest report ID; Count the number of reports.
	LastID, Count int64
}

// Version returns the current Version of the reports: a lookup of the
// highest ID and a count, without reading the reports.
func (s *Store) Version(ctx context.Context) (Version, error) {
	var v Version
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0), COUNT(*) FROM tlsrpt_report`).Scan(&v.LastID, &v.Count); err != nil {
		return Version{}, s.err("reading the version", err)
	}
	return v, nil
}

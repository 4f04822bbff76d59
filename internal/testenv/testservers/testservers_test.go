package testservers

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestRedis(t *testing.T) {
	r := StartRedis(t)
	if err := r.ping(); err != nil {
		t.Fatal(err)
	}
}

func TestPostgres(t *testing.T) {
	p := StartPostgres(t)
	url := p.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1 + 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("SELECT 1 + 1 = %d, %v", n, err)
	}
}

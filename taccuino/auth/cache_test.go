package auth

import (
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	p := &Principal{Subject: "s", Role: RoleCitizen, FiscalCode: "RSSMRA80A01H501U", Scopes: []string{"x"}, Expiry: t0.Add(time.Hour)}
	short := &Principal{Subject: "t", Role: RoleCitizen, Expiry: t0.Add(10 * time.Second)}
	noExp := &Principal{Subject: "u", Role: RoleCitizen}

	tests := []struct {
		name  string
		put   *Principal
		getAt time.Time
		hit   bool
	}{
		{"within the ttl", p, t0.Add(59 * time.Second), true},
		{"at the ttl", p, t0.Add(time.Minute), false},
		{"before the token's expiry", short, t0.Add(9 * time.Second), true},
		{"at the token's expiry, within the ttl", short, t0.Add(10 * time.Second), false},
		{"a token without expiry is never kept", noExp, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newVerifiedCache(time.Minute, 10)
			c.put("tok", tt.put, t0, 0)
			got, ok := c.get("tok", tt.getAt, 0)
			if ok != tt.hit {
				t.Fatalf("get at +%s: hit %v, want %v", tt.getAt.Sub(t0), ok, tt.hit)
			}
			if ok && (got == tt.put || got.Subject != tt.put.Subject) {
				t.Errorf("get returned %p %+v, want a copy of %p", got, got, tt.put)
			}
			if _, ok := c.get("other", tt.getAt, 0); ok {
				t.Errorf("get of another token hit")
			}
		})
	}

	t.Run("key set changed", func(t *testing.T) {
		c := newVerifiedCache(time.Minute, 10)
		c.put("tok", p, t0, 4)
		if _, ok := c.get("tok", t0.Add(time.Second), 4); !ok {
			t.Errorf("no hit with the same key set")
		}
		if _, ok := c.get("tok", t0.Add(time.Second), 5); ok {
			t.Errorf("a hit after the key set dropped or changed a key")
		}
	})
	t.Run("disabled", func(t *testing.T) {
		c := newVerifiedCache(-1, 10)
		c.put("tok", p, t0, 0)
		if _, ok := c.get("tok", t0, 0); ok {
			t.Errorf("a disabled cache hit")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newVerifiedCache(time.Minute, 3)
		for i, tok := range []string{"a", "b", "c"} {
			c.put(tok, p, t0.Add(time.Duration(i)*30*time.Second), 0)
		}
		// At +61 s "a" has expired: it makes room for "d".
		c.put("d", p, t0.Add(61*time.Second), 0)
		if n := len(c.entries); n != 3 {
			t.Errorf("%d entries after an expired one made room, want 3", n)
		}
		if _, ok := c.get("d", t0.Add(62*time.Second), 0); !ok {
			t.Errorf("d not kept")
		}
		// Full of live entries: cleared.
		c.put("e", p, t0.Add(62*time.Second), 0)
		if n := len(c.entries); n != 1 {
			t.Errorf("%d entries after the cache was full of live ones, want 1 (cleared, then e)", n)
		}
	})
}

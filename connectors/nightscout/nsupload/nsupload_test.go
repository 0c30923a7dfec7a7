package nsupload

import "testing"

func TestURLAndAPISecret(t *testing.T) {
	for _, tt := range []struct{ base, want string }{
		{"https://taccuino.example.org", "https://0123abcd@taccuino.example.org/nightscout/abcdefghijklmnop"},
		{"https://taccuino.example.org/fse/", "https://0123abcd@taccuino.example.org/fse/nightscout/abcdefghijklmnop"},
		{"http://127.0.0.1:8080", "http://0123abcd@127.0.0.1:8080/nightscout/abcdefghijklmnop"},
	} {
		got, err := URL(tt.base, "abcdefghijklmnop", "0123abcd")
		if err != nil || got != tt.want {
			t.Errorf("URL(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	for _, base := range []string{"", "taccuino.example.org", "ftp://x"} {
		if _, err := URL(base, "abcdefghijklmnop", "s"); err == nil {
			t.Errorf("URL(%q) accepted", base)
		}
	}
	// FIPS 180-4 example: SHA-1("abc").
	if got := APISecret("abc"); got != "a9993e364706816aba3e25717850c26c9cd0d89d" {
		t.Errorf("APISecret(abc) = %s", got)
	}
}

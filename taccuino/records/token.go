package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// authorization returns the Authorization header for sub ("" for
// AuthNone). Secrets are read at every call, so that a rotated token or
// secret is used at once.
func (d *Deliverer) authorization(ctx context.Context, sub Subscription) (string, error) {
	switch sub.Auth.Kind {
	case AuthNone, "":
		return "", nil
	case AuthBearer:
		tok, err := d.secret(sub.Auth)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	case AuthClientCredentials:
		tok, err := d.accessToken(ctx, sub)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", fmt.Errorf("unknown auth kind %q", sub.Auth.Kind)
}

// secret reads the secret a's environment variable or file names.
func (d *Deliverer) secret(a Auth) (string, error) {
	var v string
	if a.SecretEnv != "" {
		v = strings.TrimSpace(d.o.Getenv(a.SecretEnv))
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", a.SecretEnv)
		}
		return v, nil
	}
	b, err := d.o.ReadFile(a.SecretFile)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if v = strings.TrimSpace(string(b)); v == "" {
		return "", fmt.Errorf("secret file %s is empty", a.SecretFile)
	}
	return v, nil
}

// tokenMargin is how long before its expiry a cached access token is
// renewed.
const tokenMargin = 30 * time.Second

// accessToken returns a cached access token for sub, or gets a new one
// with the client credentials grant (RFC 6749 §4.4): a POST of
// grant_type=client_credentials (and scope) to the token URL, the client
// authenticated with HTTP Basic (§2.3.1).
func (d *Deliverer) accessToken(ctx context.Context, sub Subscription) (string, error) {
	secret, err := d.secret(sub.Auth)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(sub.Auth.TokenURL + "\x00" + sub.Auth.ClientID + "\x00" + sub.Auth.Scope + "\x00" + secret))
	key := hex.EncodeToString(h[:])
	d.mu.Lock()
	t, ok := d.tokens[sub.ID]
	d.mu.Unlock()
	if ok && t.key == key && time.Now().Before(t.expires) {
		return t.value, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if sub.Auth.Scope != "" {
		form.Set("scope", sub.Auth.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Auth.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(sub.Auth.ClientID), url.QueryEscape(secret))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %s", scrubURL(err.Error(), sub.Auth.TokenURL))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: HTTP %s", resp.Status)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: no access_token in the response")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return "", fmt.Errorf("token endpoint: token_type %q, want Bearer", tr.TokenType)
	}
	life := time.Duration(tr.ExpiresIn)*time.Second - tokenMargin
	if tr.ExpiresIn <= 0 {
		life = 0 // no expiry given: use it once
	}
	d.mu.Lock()
	d.tokens[sub.ID] = cachedToken{value: tr.AccessToken, expires: time.Now().Add(life), key: key}
	d.mu.Unlock()
	return tr.AccessToken, nil
}

// forgetToken drops the cached access token of a subscription (after a
// 401 from its server).
func (d *Deliverer) forgetToken(id int64) {
	d.mu.Lock()
	delete(d.tokens, id)
	d.mu.Unlock()
}

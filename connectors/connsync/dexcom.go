package connsync

import "context"

// DexcomConfig configures the Dexcom source.
type DexcomConfig struct{}

type dexcomSource struct{}

func dexcomConfigFromEnv(getenv func(string) string, o EnvOptions) (*DexcomConfig, error) {
	return nil, nil
}

func (s *Syncer) addDexcom(ctx context.Context, c DexcomConfig) error { return nil }

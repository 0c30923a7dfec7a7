package connsync

import "context"

// NightscoutConfig configures the Nightscout source.
type NightscoutConfig struct{}

type nightscoutSource struct{}

func nightscoutConfigFromEnv(getenv func(string) string) (*NightscoutConfig, error) { return nil, nil }

func (s *Syncer) addNightscout(ctx context.Context, c NightscoutConfig) error { return nil }

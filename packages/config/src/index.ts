export { loadConfig, describeConfig, ConfigError, type ConfigProblem, type ConfigVariable, type Environment } from './load.js'
export { readEnvFile } from './env-file.js'
export { EXIT_CONFIG, loadServiceConfig } from './service.js'
export {
  parseBasicAuth, isPlaceholderSecret, basicAuthPasswordWeakness, MIN_BASIC_AUTH_PASSWORD_LENGTH,
  type BasicAuthCredentials
} from './secrets.js'
export { parseMccDays, type MccDays } from './mcc-days.js'
export { parseDelays } from './delays.js'
export { Secret, BasicAuthSecret, StringEnum, UrlString, type ConfigCheck } from './keywords.js'
export {
  CommonConfig, JitAuthorizerConfig, WebhookIngestConfig, TxnWorkerConfig, MarqetaClientConfig, LOG_LEVELS, DEPLOY_ENVS,
  type CommonConfigT, type MarqetaClientConfigT, type JitAuthorizerConfigT, type WebhookIngestConfigT, type TxnWorkerConfigT
} from './services.js'

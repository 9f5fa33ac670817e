/**
 * `cachet/testing`: what you need to test a cachet deployment or a tier of your own — the L2 tier
 * contract suite, and a chaos proxy that makes the network to Redis misbehave on demand.
 */
export { type ChaosProxy, type ChaosProxyOptions, startChaosProxy } from './chaos-proxy.js'
export { type TierContractOptions, tierContract } from './tier-contract.js'

import { responseCacheContract } from './contract.js'
import { buildFastifyApp } from './fastify-app.js'

responseCacheContract('fastify', buildFastifyApp)

import { responseCacheContract } from './contract.js'
import { buildNestApp } from './nestjs-app.js'

responseCacheContract('nestjs', buildNestApp)

import { responseCacheContract } from './contract.js'
import { buildExpressApp } from './express-app.js'

responseCacheContract('express', buildExpressApp)

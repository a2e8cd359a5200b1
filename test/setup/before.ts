// Runs once before the suite (tap "before"): builds the migrated template database.
import { preparePgliteTemplate, preparePostgresTemplate, testDatabaseUrl } from '../helpers/template.js'

if (testDatabaseUrl === undefined) await preparePgliteTemplate()
else await preparePostgresTemplate(testDatabaseUrl)

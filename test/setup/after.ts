// Runs once after the suite (tap "after"): drops the PostgreSQL template database.
import { dropPostgresTemplate, testDatabaseUrl } from '../helpers/template.js'

if (testDatabaseUrl !== undefined) await dropPostgresTemplate(testDatabaseUrl)

-- The version of the model's defaults each fixed configuration was measured under, so that a family's
-- current configuration is looked up per model version. Rows fixed before versioned defaults have no
-- `model` in their record: they ran under version 1, the column's default.
ALTER TABLE "FixedConfig" ADD COLUMN "modelVersion" INTEGER NOT NULL DEFAULT 1;

-- CreateIndex
CREATE INDEX "FixedConfig_family_modelVersion_version_idx" ON "FixedConfig"("family", "modelVersion", "version");

-- Constraints the Prisma schema cannot express: the column says what the record says.
ALTER TABLE "FixedConfig" ADD CONSTRAINT "FixedConfig_modelVersion_check"
  CHECK ("modelVersion" >= 1 AND "modelVersion" = COALESCE(("record" -> 'model' ->> 'version')::int, 1));

"""Front desk: intake interview (Erstgespräch), routing, ABRA pre-registration clearing, registration gate."""

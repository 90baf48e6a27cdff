"""What every domain uses: database, tenancy, errors, lists, versions, money and time."""
